using Microsoft.ML;
using MlNetBert.Tasks;
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
    public static BertEstimator BertTextClassification(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, BertTrainingOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        options ??= new BertTrainingOptions();
        return new(options, options.Text2ColumnName is null ? ClassificationTraining.Text : ClassificationTraining.Pair);
    }

    /// <summary>
    /// Fine-tunes a BERT cross-encoder that reads both texts together and predicts a similarity score on the label's
    /// scale (STS-B: 0 to 5). Set <see cref="BertTrainingOptions.Text2ColumnName"/>.
    /// </summary>
    public static BertEstimator BertSentenceSimilarity(this RegressionCatalog.RegressionTrainers catalog, BertTrainingOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(options);
        if (options.Text2ColumnName is null)
            throw new BadInputException("sentence similarity needs two text columns: set Text2ColumnName");
        return new BertEstimator(options, SentenceSimilarityTraining.Instance);
    }

    /// <summary>
    /// Fine-tunes BERT for token classification (named entities). The text column holds space-separated words; the
    /// label column one key per word: a <c>string[]</c> of BIO or IOB1-converted tags through <c>MapValueToKey</c>.
    /// Outputs <c>PredictedLabel</c>, a key vector with one tag per word (<c>MapKeyToValue</c> gives the tags back),
    /// and <c>Score</c>, each word's tag probability. Long sentences are read in overlapping windows, not cut off.
    /// The text column may also be a <c>string[]</c> of words (one word per item, no white space inside).
    /// </summary>
    /// <param name="catalog">ML.NET's multiclass trainers.</param>
    /// <param name="options">Columns, checkpoint and recipe.</param>
    /// <param name="labelAllSubTokens">Train every sub-token of a word (B-X becoming I-X after the first) instead of
    /// only the first, as Hugging Face's <c>label_all_tokens</c>; predictions still come from each word's first sub-token.</param>
    /// <example>
    /// <code>
    /// var pipeline = ml.Transforms.Conversion.MapValueToKey("Tags")
    ///     .Append(ml.MulticlassClassification.Trainers.BertNamedEntityRecognition(new BertTrainingOptions { TextColumnName = "Words", LabelColumnName = "Tags" }))
    ///     .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"));
    /// </code>
    /// </example>
    public static BertEstimator BertNamedEntityRecognition(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, BertTrainingOptions? options = null,
        bool labelAllSubTokens = false)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new BertEstimator(options ?? new BertTrainingOptions(), labelAllSubTokens ? TokenClassificationTraining.AllSubTokens : TokenClassificationTraining.Instance);
    }

    /// <summary>
    /// Extractive question answering (SQuAD v1.1) with Hugging Face's recipe: <c>[CLS] question [SEP] context [SEP]</c>
    /// in windows of <see cref="BertTrainingOptions.MaxSequenceLength"/> tokens sharing <see cref="BertTrainingOptions.DocStride"/>,
    /// answers searched over all windows (at most <see cref="BertTrainingOptions.MaxAnswerLength"/> sub-tokens). Column
    /// defaults are ML.NET's <c>QuestionAnswer</c> names: inputs <c>Context</c>, <c>Question</c>, <c>TrainingAnswer</c>
    /// (the answer's text) and <c>AnswerIndex</c> (Int32, its character offset into the context), or both as vectors
    /// holding every gold answer of the question (the first is trained on; validation scores the best over all, as
    /// SQuAD does); outputs <c>Answer</c>
    /// (the <paramref name="topK"/> best answers' texts) and <c>Score</c> (their probabilities over the candidate spans).
    /// </summary>
    /// <param name="catalog">ML.NET's multiclass trainers.</param>
    /// <param name="contextColumnName">The context (Text).</param>
    /// <param name="questionColumnName">The question (Text).</param>
    /// <param name="trainingAnswerColumnName">The answer's text (Text), as it appears in the context; or every gold answer (a vector of Text).</param>
    /// <param name="answerIndexColumnName">The answer's character offset into the context (Int32); or one per answer (a vector of Int32).</param>
    /// <param name="predictedAnswerColumnName">Output: the best answers' texts (a vector of Text).</param>
    /// <param name="scoreColumnName">Output: their probabilities (a vector of Single).</param>
    /// <param name="topK">Answers per question, best first.</param>
    /// <param name="options">Training settings; null for the defaults with a maximum length of 384 and batches of 8 with
    /// two batches per optimizer step (384-token windows are memory-hungry). The column names and
    /// <paramref name="topK"/> given here replace the options' own.</param>
    /// <example>
    /// <code>
    /// var pipeline = ml.MulticlassClassification.Trainers.BertQuestionAnswer(options: new BertTrainingOptions { MaxSequenceLength = 384, Epochs = 2 });
    /// var model = pipeline.Fit(trainView); // rows with Context, Question, TrainingAnswer, AnswerIndex
    /// var scored = model.Transform(testView); // adds Answer (string[]) and Score (float[])
    /// </code>
    /// </example>
    public static BertEstimator BertQuestionAnswer(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        string contextColumnName = "Context", string questionColumnName = "Question", string trainingAnswerColumnName = "TrainingAnswer",
        string answerIndexColumnName = "AnswerIndex", string predictedAnswerColumnName = "Answer", string scoreColumnName = "Score",
        int topK = 3, BertTrainingOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        options = (options ?? QuestionAnswerTraining.Instance.DefaultShape.ApplyTo(new BertTrainingOptions())) with
        {
            TextColumnName = questionColumnName,
            Text2ColumnName = contextColumnName,
            LabelColumnName = trainingAnswerColumnName,
            AnswerIndexColumnName = answerIndexColumnName,
            PredictedLabelColumnName = predictedAnswerColumnName,
            ScoreColumnName = scoreColumnName,
            AnswerCount = topK,
        };
        return new BertEstimator(options, QuestionAnswerTraining.Instance);
    }

    /// <summary>
    /// Fine-tunes a sentence-embedding bi-encoder: each text of a pair goes through the encoder on its own, and the
    /// loss compares the two vectors. <see cref="EmbeddingLoss.CosineSimilarity"/> (default) reads a Single score in
    /// <see cref="BertTrainingOptions.LabelColumnName"/> (STS-B: 0 to 5); <see cref="EmbeddingLoss.MultipleNegativesRanking"/>
    /// reads (anchor, positive) pairs and no label. The fitted transformer embeds <see cref="BertTrainingOptions.TextColumnName"/>
    /// into a vector column named <see cref="BertTrainingOptions.ScoreColumnName"/>; export it, or give the saved
    /// model.zip to <c>Transforms.Text.BertSentenceEmbedding</c> to use it as a featurizer.
    /// </summary>
    /// <example>
    /// <code>
    /// var trainer = ml.Regression.Trainers.BertSentenceEmbedding(new BertTrainingOptions
    /// {
    ///     TextColumnName = "Sentence1", Text2ColumnName = "Sentence2", LabelColumnName = "Score",
    ///     LearningRate = 2e-5, BatchSize = 16, Epochs = 4,
    /// });
    /// using var model = trainer.Fit(pairs);
    /// </code>
    /// </example>
    public static BertEstimator BertSentenceEmbedding(this RegressionCatalog.RegressionTrainers catalog, BertTrainingOptions options,
        EmbeddingLoss loss = EmbeddingLoss.CosineSimilarity)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(options);
        if (options.Text2ColumnName is null)
            throw new BadInputException("a sentence-embedding bi-encoder trains on pairs of texts: set Text2ColumnName");
        return new BertEstimator(options, SentenceEmbeddingTraining.For(loss));
    }

    /// <summary>
    /// Scores rows with an exported MlNetBert ONNX file (any variant) in length-sorted batches, adding <c>Score</c>
    /// and <c>PredictedLabel</c> (classification) or <c>Score</c> (similarity), like the trained model does.
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="modelFile">An <c>.onnx</c> file from <c>mlnetbert export</c> (labels and tokenizer are inside it).</param>
    /// <param name="textColumnName">The text column (Text).</param>
    /// <param name="text2ColumnName">The second text column, for pair classification and similarity models.</param>
    /// <param name="batchSize">Rows per ONNX Runtime call (default 32).</param>
    /// <param name="options">ONNX Runtime settings (threads, CPU or CUDA).</param>
    /// <example>
    /// <code>
    /// var scored = ml.Transforms.ApplyBertOnnxModel("sentiment.onnx", "Sentence")
    ///     .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"))
    ///     .Fit(data).Transform(data);
    /// </code>
    /// </example>
    public static BertOnnxEstimator ApplyBertOnnxModel(this TransformsCatalog catalog, string modelFile, string textColumnName,
        string? text2ColumnName = null, int batchSize = 32, MlNetBert.Inference.BertOnnxOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentException.ThrowIfNullOrEmpty(modelFile);
        ArgumentException.ThrowIfNullOrEmpty(textColumnName);
        return new BertOnnxEstimator(modelFile, textColumnName, text2ColumnName, batchSize, options);
    }

    /// <summary>
    /// Sentence embeddings as features: a text column becomes a vector of floats (mean-pooled, L2-normalised by
    /// default) for any learner after it. Fit resolves <see cref="BertSentenceEmbeddingOptions.Model"/> (a checkpoint
    /// name, a HuggingFace folder, a fine-tuned embedding model.zip or .onnx) to one verified ONNX file; scoring runs
    /// on ONNX Runtime, and <c>mlContext.Model.Save</c> keeps that file inside the .zip.
    /// </summary>
    /// <param name="catalog">The text transforms catalog.</param>
    /// <param name="outputColumnName">The vector column to add.</param>
    /// <param name="inputColumnName">The text column (default: <paramref name="outputColumnName"/>).</param>
    /// <param name="options">Model, pooling, normalisation, batch size, ONNX Runtime settings.</param>
    /// <example>
    /// <code>
    /// var pipeline = ml.Transforms.Text.BertSentenceEmbedding("Features", "Text")
    ///     .Append(ml.Transforms.Conversion.MapValueToKey("Label"))
    ///     .Append(ml.MulticlassClassification.Trainers.SdcaMaximumEntropy());
    /// </code>
    /// </example>
    public static BertSentenceEmbeddingEstimator BertSentenceEmbedding(this TransformsCatalog.TextTransforms catalog, string outputColumnName,
        string? inputColumnName = null, BertSentenceEmbeddingOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentException.ThrowIfNullOrEmpty(outputColumnName);
        return new BertSentenceEmbeddingEstimator(outputColumnName, inputColumnName ?? outputColumnName, options ?? new BertSentenceEmbeddingOptions());
    }

    /// <summary>Loads a model saved with <see cref="BertTransformer.SaveTo"/>.</summary>
    public static BertTransformer LoadBertModel(this ModelOperationsCatalog catalog, string path) =>
        BertTransformer.Load(new MLContext(), path);
}
