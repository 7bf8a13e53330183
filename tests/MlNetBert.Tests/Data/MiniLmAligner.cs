using MlNetBert.Checkpoints;
using MlNetBert.Tokenization;

namespace MlNetBert.Tests.Data;

/// <summary>The real all-MiniLM-L6-v2 vocabulary (uncased BERT WordPiece, 30,522 tokens), loaded once for the alignment tests.</summary>
internal static class MiniLmAligner
{
    private static readonly Lazy<WordPieceAligner> Instance = new(() => new WordPieceAligner(new CheckpointStore().Resolve("minilm-l6").CreateEncoder()));

    public static WordPieceAligner Value => Instance.Value;
}
