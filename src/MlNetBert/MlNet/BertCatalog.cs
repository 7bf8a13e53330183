using Microsoft.ML;
using MlNetBert.Training;

namespace MlNetBert.MlNet;

/// <summary>ML.NET catalog extensions for MlNetBert's trainers.</summary>
public static class BertCatalog
{
    /// <summary>
    /// Fine-tunes BERT for text classification (one text column) or sentence-pair classification (when
    /// <see cref="BertTrainingOptions.Text2ColumnName"/> is set). The label must be a key: put
    /// <c>MapValueToKey</c> before it and <c>MapKeyToValue("PredictedLabel")</c> after it.
    /// </summary>
    /// <example>
    /// <code>
    /// var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
    ///     .Append(ml.MulticlassClassification.Trainers.BertTextClassification(new BertTrainingOptions { TextColumnName = "Sentence" }))
    ///     .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"));
    /// var model = pipeline.Fit(train);
    /// </code>
    /// </example>
    public static BertEstimator BertTextClassification(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, BertTrainingOptions? options = null) =>
        new(GetContext(catalog), options ?? new BertTrainingOptions(), similarity: false);

    /// <summary>
    /// Fine-tunes a BERT cross-encoder that reads both texts together and predicts a similarity score on the label's
    /// scale (STS-B: 0 to 5). Set <see cref="BertTrainingOptions.Text2ColumnName"/>.
    /// </summary>
    public static BertEstimator BertSentenceSimilarity(this RegressionCatalog.RegressionTrainers catalog, BertTrainingOptions options)
    {
        if (options.Text2ColumnName is null)
            throw new BadInputException("sentence similarity needs two text columns: set Text2ColumnName");
        return new BertEstimator(GetContext(catalog), options, similarity: true);
    }

    /// <summary>Loads a model saved with <see cref="BertTransformer.SaveTo"/>.</summary>
    public static BertTransformer LoadBertModel(this ModelOperationsCatalog catalog, string path) =>
        BertTransformer.Load(new MLContext(), path);

    // Catalogs keep their MLContext's environment private; trainers only need a context for ML.NET plumbing.
    private static MLContext GetContext(object _) => new();
}
