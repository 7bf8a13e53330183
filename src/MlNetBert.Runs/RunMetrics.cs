using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using MlNetBert.Training;

namespace MlNetBert.Runs;

/// <summary>metrics.json and log.csv: the final metrics, the per-epoch history and every optimizer step.</summary>
internal static class RunMetrics
{
    public static Dictionary<string, double> Flatten(JsonObject metrics) =>
        metrics.Where(kv => kv.Value is JsonValue v && v.TryGetValue(out double _)).ToDictionary(kv => kv.Key, kv => kv.Value!.GetValue<double>());

    public static void WriteMetrics(RunFolder run, TrainingHistory history, JsonObject final)
    {
        var json = new JsonObject
        {
            ["final"] = final,
            ["best_epoch"] = history.BestEpoch,
            ["validation_metric"] = history.ValidationMetricName,
            ["epochs"] = new JsonArray(history.Epochs.Select(e => (JsonNode)new JsonObject
            {
                ["epoch"] = e.Epoch,
                ["train_loss"] = e.TrainLoss,
                ["validation_" + history.ValidationMetricName] = e.ValidationMetric,
                ["validation_loss"] = e.ValidationLoss,
                ["seconds"] = Math.Round(e.Duration.TotalSeconds, 2),
                ["samples_per_second"] = Math.Round(e.SamplesPerSecond, 2),
            }).ToArray()),
            ["training_seconds"] = Math.Round(history.TrainingTime.TotalSeconds, 2),
            ["samples_per_second"] = Math.Round(history.SamplesPerSecond, 2),
            ["trainable_parameters"] = history.TrainableParameters,
            ["total_parameters"] = history.TotalParameters,
            ["real_token_fraction"] = history.PaddedTokens == 0 ? 0 : Math.Round((double)history.RealTokens / history.PaddedTokens, 4),
            ["peak_working_set_bytes"] = history.PeakWorkingSetBytes,
            ["bf16"] = history.BFloat16,
        };
        Write(run.MetricsJson, json);
    }

    public static void Write(string path, JsonObject json) => AtomicFile.WriteAllText(path, json.ToJsonString(RunRecord.Indented) + "\n");

    public static void WriteLog(RunFolder run, TrainingHistory history)
    {
        var sb = new StringBuilder(LogHeader);
        foreach (var s in history.Steps)
            sb.Append(LogLine(s.Step, s.Epoch, s.Loss, s.LearningRate, s.SamplesPerSecond));
        AtomicFile.WriteAllText(run.LogCsv, sb.ToString());
    }

    /// <summary>log.csv's first line.</summary>
    public const string LogHeader = "step,epoch,loss,learning_rate,samples_per_second\n";

    /// <summary>One step's line of log.csv (the same whether appended live or written at the end).</summary>
    public static string LogLine(int step, int epoch, double loss, double learningRate, double samplesPerSecond) =>
        string.Create(CultureInfo.InvariantCulture, $"{step},{epoch},{loss:G6},{learningRate:G6},{samplesPerSecond:F2}\n");
}
