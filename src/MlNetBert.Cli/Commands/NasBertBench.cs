using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using MlNetBert.Data;
using MlNetBert.Inference;
using MlNetBert.NasBert;

namespace MlNetBert.Cli.Commands;

/// <summary>
/// <c>mlnetbert bench nasbert</c>: sentences/s of an ML.NET NAS-BERT model through ML.NET's PredictionEngine, ML.NET's
/// Transform, and the exported ONNX file in ONNX Runtime at batch 1 and 32, all measured in one run on the same rows.
/// </summary>
internal static class NasBertBench
{
    public static Command Create()
    {
        var modelFile = new Option<string>("--model") { Description = "An ML.NET TextClassification / SentenceSimilarity model .zip.", Required = true };
        var dataFile = new Option<string>("--data") { Description = "Sentences to score (e.g. sst2/dev.tsv; labels are ignored).", Required = true };
        var threads = new Option<int>("--threads") { Description = "torch and ONNX Runtime intra-op threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var json = new Option<string?>("--json") { Description = "Also write the results to this JSON file." };
        var data = new DataArguments();
        var command = new Command("nasbert",
            """
            Inference speed of ML.NET's own NAS-BERT model: PredictionEngine (one row per call), Transform (an IDataView),
            and the model exported to ONNX in ONNX Runtime at batch 1 and batch 32 (length-sorted), on the same rows.

            Example:
              mlnetbert bench nasbert --model runs/nasbert/model.zip --data sst2/dev.tsv --json bench-nasbert.json
            """)
        {
            modelFile, dataFile, threads, json,
        };
        data.AddTo(command);
        command.SetAction(parse =>
        {
            string zip = parse.GetValue(modelFile)!;
            if (!File.Exists(zip))
                throw new BadInputException($"{zip}: model file not found");
            if (!NasBertOnnxExporter.IsMlNetNasBertZip(zip))
                throw new BadInputException($"{zip}: not an ML.NET NAS-BERT model .zip (TextClassification or SentenceSimilarity)");
            var table = TabularReader.Read(data.Read(parse, parse.GetValue(dataFile)!, LabelKind.None));
            int n = parse.GetValue(threads);
            TorchSharp.torch.set_num_threads(n);
            string onnxPath = Path.Combine(Path.GetTempPath(), $"mlnetbert-bench-{Environment.ProcessId}.onnx");
            try
            {
                var info = NasBertOnnxExporter.Export(zip, onnxPath);
                bool pair = info.Sentence2Column is not null;
                if (pair && table.Rows.Any(r => r.Text2 is null))
                    throw new BadInputException($"{zip} reads sentence pairs: pass --text2-column");
                var rows = table.Rows.Select(r => (r.Text, pair ? r.Text2 : null)).ToList();
                var texts = rows.Select(r => r.Text).ToList();
                var texts2 = pair ? rows.Select(r => r.Item2 ?? "").ToList() : null;
                using var scorer = new NasBertMlNetScorer(zip, info);
                using var onnx = BertOnnxModel.Load(onnxPath, new BertOnnxOptions { IntraOpThreads = n });
                var warm = rows.Take(16).ToList();
                scorer.PredictEach(warm);
                scorer.Transform(warm);
                onnx.PredictBatch(texts.Take(16).ToList(), texts2?.Take(16).ToList(), batchSize: 8);
                Console.WriteLine($"{rows.Count} rows of {table.Path}, {info.Task}, {n} threads (torch and ONNX Runtime)");

                var results = new JsonObject { ["rows"] = rows.Count, ["threads"] = n, ["task"] = info.Task.Name, ["data"] = Path.GetFullPath(table.Path) };
                double? baseline = null;
                List<float[]>? reference = null;
                foreach (var (name, run) in new (string, Func<List<float[]>>)[]
                {
                    ("ml.net_prediction_engine", () => scorer.PredictEach(rows)),
                    ("ml.net_transform", () => scorer.Transform(rows)),
                    ("onnx_batch_1", () => rows.Select(r => Output(onnx.Predict(r.Text, r.Item2))).ToList()),
                    ("onnx_batch_32", () => onnx.PredictBatch(texts, texts2, batchSize: 32).Select(Output).ToList()),
                })
                {
                    var watch = Stopwatch.StartNew();
                    var outputs = run();
                    double perSecond = rows.Count / watch.Elapsed.TotalSeconds;
                    baseline ??= perSecond;
                    reference ??= outputs;
                    double diff = outputs.Zip(reference).Max(p => p.First.Zip(p.Second).Max(v => Math.Abs(v.First - v.Second)));
                    Console.WriteLine($"{name,-26} {perSecond,9:F1} sentences/s  x{perSecond / baseline.Value,5:F2}  max |diff| vs PredictionEngine {diff:E1}");
                    results[name] = new JsonObject { ["sentences_per_second"] = Math.Round(perSecond, 1), ["ratio"] = Math.Round(perSecond / baseline.Value, 2), ["max_abs_diff"] = diff };
                }
                if (parse.GetValue(json) is { } jsonPath)
                    AtomicFile.WriteAllText(jsonPath, results.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
                return ExitCodes.Success;
            }
            finally
            {
                if (File.Exists(onnxPath))
                    File.Delete(onnxPath);
            }
        });
        return command;
    }

    private static float[] Output(Prediction p) => p.Logits ?? [p.Score ?? float.NaN];
}
