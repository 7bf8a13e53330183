using MlNetBert.Tasks;
using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using MlNetBert.Checkpoints;
using MlNetBert.Data;
using MlNetBert.Modeling;
using MlNetBert.Training;
using static TorchSharp.torch;

namespace MlNetBert.Cli.Commands;

/// <summary><c>mlnetbert bench</c>: measured speed, always as a ratio against a baseline measured in the same run.</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var bench = new Command("bench", "Measure training and inference speed (results as ratios against a baseline in the same run).");
        bench.Add(TrainBench());
        bench.Add(PredictBench.Create());
        bench.Add(ServeBench.Create());
        bench.Add(NasBertBench.Create());
        bench.Add(UiBench.Create());
        return bench;
    }

    private static Command TrainBench()
    {
        var dataFile = new Option<string>("--data") { Description = "Labelled sentences to train on (e.g. sst2/train.tsv).", Required = true };
        var rows = new Option<int>("--rows") { Description = "Rows per measured epoch (a seeded sample).", DefaultValueFactory = _ => 1024 };
        var batch = new Option<int>("--batch-size") { DefaultValueFactory = _ => 32 };
        var maxLength = new Option<int>("--max-length") { DefaultValueFactory = _ => 128 };
        var model = new Option<string>("--model") { DefaultValueFactory = _ => CheckpointStore.DefaultName };
        var json = new Option<string?>("--json") { Description = "Also write the results to this JSON file." };
        var data = new DataArguments();
        var command = new Command("train",
            """
            Training throughput of the plain loop (shuffled file order, dense AdamW) against MlNetBert's loop
            (length-grouped batches, sparse word-embedding updates) on the same rows, then MlNetBert's loop with weight
            averaging over every step (the cost of --average-last), plus the matrix-product peak of this machine and the
            fraction of it spent on real (unpadded) tokens.

            Example:
              mlnetbert bench train --data sst2/train.tsv --rows 1024 --json bench-train.json
            """)
        {
            dataFile, rows, batch, maxLength, model, json,
        };
        data.AddTo(command);
        command.SetAction(parse =>
        {
            var table = TabularReader.Read(data.Read(parse, parse.GetValue(dataFile)!, LabelKind.Categorical, parse.GetValue(rows), 42));
            var labels = LabelSet.FromTraining(table.Rows, table.Path, table.Columns.Label);
            var checkpoint = new CheckpointStore(log: Console.Error.WriteLine).Resolve(parse.GetValue(model)!);
            var encoder = checkpoint.CreateEncoder();
            var examples = table.Rows.Select(r => new TrainingExample(encoder.Encode(r.Text, null, parse.GetValue(maxLength)), labels.IndexOf(r.Label!), 0)).ToList();
            var tensors = checkpoint.LoadTensors();
            double peak = MatmulPeakGflops();
            Console.WriteLine($"torch threads {get_num_threads()}, fp32 matrix-product peak {peak:F1} GFLOP/s, {examples.Count} rows, batch {parse.GetValue(batch)}");

            var results = new JsonObject { ["rows"] = examples.Count, ["batch_size"] = parse.GetValue(batch), ["threads"] = get_num_threads(), ["matmul_peak_gflops"] = Math.Round(peak, 1) };
            // Unmeasured warm-up (first-use costs of libtorch's allocator and kernels), so the first configuration
            // measured, the baseline, is not charged for them.
            {
                manual_seed(1);
                using var warm = new BertClassifier(checkpoint.Config, labels.Count, Pooling.Cls);
                warm.Bert.LoadWeights(tensors, checkpoint.WeightsPath);
                var warmOptions = new BertTrainingOptions { Epochs = 1, BatchSize = parse.GetValue(batch), LengthGroupedBatches = false, SparseEmbeddingUpdates = false, Seed = 2 };
                new BertFineTuner(warmOptions, ClassificationTraining.Text).Train(warm, examples.Take(Math.Min(examples.Count, 4 * parse.GetValue(batch))).ToList(), null);
            }
            double? baseline = null;
            // The last row is MlNetBert's loop with weight averaging over every step (--average-last 1), its worst case.
            foreach (var (name, grouped, sparse, average) in new[]
                     { ("plain", false, false, 0.0), ("length-grouped", true, false, 0.0), ("mlnetbert", true, true, 0.0), ("mlnetbert+avg", true, true, 1.0) })
            {
                manual_seed(1);
                using var network = new BertClassifier(checkpoint.Config, labels.Count, Pooling.Cls);
                network.Bert.LoadWeights(tensors, checkpoint.WeightsPath);
                var options = new BertTrainingOptions { Epochs = 1, BatchSize = parse.GetValue(batch), LengthGroupedBatches = grouped, SparseEmbeddingUpdates = sparse, AverageWeightsOverLast = average, Seed = 1 };
                var history = new BertFineTuner(options, ClassificationTraining.Text).Train(network, examples, null);
                double rate = history.SamplesPerSecond;
                baseline ??= rate;
                // Training FLOPs ~ 6 x (encoder parameters outside the embeddings) per token, plus attention's 12 x L x hidden x length.
                long encoderParams = tensors.Where(kv => kv.Key.StartsWith("encoder.", StringComparison.Ordinal)).Sum(kv => kv.Value.ElementCount);
                double seconds = history.TrainingTime.TotalSeconds;
                double realGflops = 6.0 * encoderParams * history.RealTokens / seconds / 1e9;
                double paddedGflops = 6.0 * encoderParams * history.PaddedTokens / seconds / 1e9;
                Console.WriteLine($"{name,-15} {rate,7:F1} samples/s  x{rate / baseline.Value:F2}  real tokens {100.0 * history.RealTokens / history.PaddedTokens:F0}%  " +
                    $"{realGflops:F0} GFLOP/s on real tokens ({100 * realGflops / peak:F0}% of peak), {paddedGflops:F0} counting padding");
                results[name] = new JsonObject
                {
                    ["samples_per_second"] = Math.Round(rate, 2),
                    ["ratio_to_plain"] = Math.Round(rate / baseline.Value, 3),
                    ["real_token_fraction"] = Math.Round((double)history.RealTokens / history.PaddedTokens, 4),
                    ["gflops_real_tokens"] = Math.Round(realGflops, 1),
                    ["fraction_of_peak_real_tokens"] = Math.Round(realGflops / peak, 3),
                    ["seconds"] = Math.Round(seconds, 2),
                };
            }
            if (parse.GetValue(json) is { } path)
                AtomicFile.WriteAllText(path, results.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>GFLOP/s of a large fp32 matrix product on this machine (best of 5).</summary>
    internal static double MatmulPeakGflops()
    {
        using var scope = NewDisposeScope();
        const int n = 1536;
        var a = randn(n, n);
        var b = randn(n, n);
        a.matmul(b).Dispose();
        double best = double.MaxValue;
        for (int i = 0; i < 5; i++)
        {
            var sw = Stopwatch.StartNew();
            using var c = a.matmul(b);
            best = Math.Min(best, sw.Elapsed.TotalSeconds);
        }
        return 2.0 * n * n * n / best / 1e9;
    }
}
