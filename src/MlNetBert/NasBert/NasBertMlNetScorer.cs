using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.TorchSharp.NasBert;

namespace MlNetBert.NasBert;

/// <summary>
/// Scores text with the NAS-BERT part (TextClassification or SentenceSimilarity transformer) of an ML.NET model .zip,
/// through ML.NET itself: one row at a time with a <see cref="PredictionEngine{TSrc,TDst}"/>, or a whole
/// <see cref="IDataView"/> with <c>Transform</c>. Outputs are ML.NET's: raw logits, or the similarity score.
/// Used to verify exports and to benchmark ML.NET against ONNX Runtime.
/// </summary>
public sealed class NasBertMlNetScorer : IDisposable
{
    private sealed class PairText
    {
        public string A { get; set; } = "";
        public string B { get; set; } = "";
    }

    private sealed class Logits
    {
        public float[] Score { get; set; } = [];
    }

    private sealed class Similarity
    {
        public float Score { get; set; }
    }

    private readonly MLContext _ml = new();
    private readonly List<ITransformer> _parts;
    private readonly ITransformer _nasBert;
    private readonly SchemaDefinition _input;
    private readonly string _scoreColumn;

    public NasBertMlNetScorer(string mlnetZip, NasBertModelInfo info)
    {
        var model = _ml.Model.Load(mlnetZip, out _);
        _parts = model is IEnumerable<ITransformer> chain ? chain.ToList() : [model];
        _nasBert = _parts.FirstOrDefault(p => p is TextClassificationTransformer or SentenceSimilarityTransformer)
            ?? throw new BadInputException($"{mlnetZip}: no NAS-BERT TextClassification or SentenceSimilarity transformer");
        Info = info;
        _input = SchemaDefinition.Create(typeof(PairText));
        _input[nameof(PairText.A)].ColumnName = info.Sentence1Column;
        _input[nameof(PairText.B)].ColumnName = info.Sentence2Column ?? info.Sentence1Column + "_unused";
        var schema = _nasBert.GetOutputSchema(_ml.Data.LoadFromEnumerable(new List<PairText>(), _input).Schema);
        _scoreColumn = schema.Last(c => c.Type is VectorDataViewType { ItemType: NumberDataViewType } || c.Type == NumberDataViewType.Single).Name;
    }

    public NasBertModelInfo Info { get; }

    // ML.NET's similarity transformer scores one float per row; its classifier a vector of logits.
    private bool IsSimilarity => !Info.Task.Inference.HasLabels;

    /// <summary>ML.NET's <c>Transform</c> over all rows (it still runs the network one row at a time).</summary>
    public List<float[]> Transform(IReadOnlyList<(string Text, string? Text2)> rows)
    {
        var view = _ml.Data.LoadFromEnumerable(rows.Select(r => new PairText { A = r.Text, B = r.Text2 ?? "" }).ToList(), _input);
        var scored = _nasBert.Transform(view);
        return IsSimilarity
            ? scored.GetColumn<float>(_scoreColumn).Select(s => new[] { s }).ToList()
            : scored.GetColumn<float[]>(_scoreColumn).ToList();
    }

    /// <summary>ML.NET's <c>PredictionEngine</c>, one call per row.</summary>
    public List<float[]> PredictEach(IReadOnlyList<(string Text, string? Text2)> rows)
    {
        var results = new List<float[]>(rows.Count);
        if (IsSimilarity)
        {
            using var engine = _ml.Model.CreatePredictionEngine<PairText, Similarity>(_nasBert, Options(typeof(Similarity)));
            foreach (var r in rows)
                results.Add([engine.Predict(new PairText { A = r.Text, B = r.Text2 ?? "" }).Score]);
        }
        else
        {
            using var engine = _ml.Model.CreatePredictionEngine<PairText, Logits>(_nasBert, Options(typeof(Logits)));
            foreach (var r in rows)
                results.Add(engine.Predict(new PairText { A = r.Text, B = r.Text2 ?? "" }).Score.ToArray());
        }
        return results;
    }

    // By default a PredictionEngine disposes its transformer (and so the TorchSharp module) when it is disposed.
    private PredictionEngineOptions Options(Type output) => new()
    {
        InputSchemaDefinition = _input,
        OutputSchemaDefinition = Output(output),
        OwnsTransformer = false,
    };

    private SchemaDefinition Output(Type type)
    {
        var definition = SchemaDefinition.Create(type);
        definition["Score"].ColumnName = _scoreColumn;
        if (!IsSimilarity)
            definition["Score"].ColumnType = new VectorDataViewType(NumberDataViewType.Single, Info.Labels.Count);
        return definition;
    }

    public void Dispose()
    {
        foreach (var part in _parts.OfType<IDisposable>())
            part.Dispose();
    }
}
