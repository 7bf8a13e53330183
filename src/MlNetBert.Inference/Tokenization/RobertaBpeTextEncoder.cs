using Microsoft.ML.Tokenizers;

namespace MlNetBert.Tokenization;

/// <summary>
/// The tokenizer of ML.NET's NAS-BERT trainers: RoBERTa/GPT-2 byte-level BPE (<c>encoder.json</c> + <c>vocab.bpe</c>)
/// with its ids remapped to fairseq dictionary ranks through <c>dict.txt</c>, built exactly as Microsoft.ML.TorchSharp
/// 0.23.1 builds it (Microsoft.ML.Tokenizers' <see cref="EnglishRobertaTokenizer"/>, RoBERTa pre-tokenizer, unsupported
/// characters filtered, <c>&lt;mask&gt;</c> added). Inputs are <c>[0] + ids(a)</c> or <c>[0] + ids(a) + [2] + ids(b)</c>,
/// cut to the first <c>maxLength</c> tokens; batches are padded with id 1. The three files travel in the model's metadata.
/// </summary>
public sealed class RobertaBpeTextEncoder : ITextEncoder
{
    /// <summary>fairseq's <c>&lt;s&gt;</c>: the first token of every input.</summary>
    public const int StartId = 0;

    /// <summary>fairseq's <c>&lt;pad&gt;</c>: fills batches; the model masks it wherever it appears.</summary>
    public const int PadId = 1;

    /// <summary>fairseq's <c>&lt;/s&gt;</c>: between the two texts of a pair (ML.NET puts none at the end).</summary>
    public const int SeparatorId = 2;

    // EnglishRobertaTokenizer keeps a cache of encoded words; serialise access so concurrent predictions stay safe.
    private readonly object _lock = new();
    private readonly EnglishRobertaTokenizer _tokenizer;

    private RobertaBpeTextEncoder(EnglishRobertaTokenizer tokenizer) => _tokenizer = tokenizer;

    /// <summary>Builds the tokenizer from the three files' contents.</summary>
    /// <exception cref="BadInputException">A file is empty or malformed.</exception>
    public static RobertaBpeTextEncoder FromStreams(Stream encoderJson, Stream mergesBpe, Stream dictTxt, string source)
    {
        try
        {
            var tokenizer = EnglishRobertaTokenizer.Create(encoderJson, mergesBpe, dictTxt, RobertaPreTokenizer.Instance, normalizer: null, filterUnsupportedChars: true);
            tokenizer.AddMaskSymbol("<mask>");
            return new RobertaBpeTextEncoder(tokenizer);
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or InvalidOperationException or System.Text.Json.JsonException)
        {
            throw new BadInputException($"{source}: the RoBERTa BPE tokenizer files are damaged ({ex.Message})", ex);
        }
    }

    /// <summary>Number of symbols, fairseq's and <c>&lt;mask&gt;</c> included: the model's vocabulary size.</summary>
    public int SymbolsCount => _tokenizer.SymbolsCount;

    /// <summary>The fairseq-rank ids of one text, without the start token.</summary>
    public IReadOnlyList<int> Ids(string text)
    {
        lock (_lock)
            return _tokenizer.ConvertIdsToOccurrenceRanks(_tokenizer.EncodeToIds(text ?? string.Empty, considerPreTokenization: true, considerNormalization: true));
    }

    public EncodedText Encode(string text, string? text2, int maxLength)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLength, 1);
        var ids = new List<int>(64) { StartId };
        ids.AddRange(Ids(text));
        if (text2 is not null)
        {
            ids.Add(SeparatorId);
            ids.AddRange(Ids(text2));
        }
        int length = Math.Min(ids.Count, maxLength);
        return new EncodedText(ids.GetRange(0, length).ToArray(), new int[length]);
    }

    /// <summary>Pads with id 1 (fairseq's padding); token types are all 0 for this tokenizer.</summary>
    public EncodedBatch Pad(IReadOnlyList<EncodedText> rows) => EncodedBatch.PadToLongest(rows, PadId);
}
