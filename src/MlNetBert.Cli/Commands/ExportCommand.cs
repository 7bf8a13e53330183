using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using MlNetBert.Data;
using MlNetBert.Export;
using MlNetBert.NasBert;
using MlNetBert.Runs;
using MlNetBert.Training;
using MlNetBert.Triton;

namespace MlNetBert.Cli.Commands;

/// <summary><c>mlnetbert export</c>: a trained model.zip to one verified, self-describing ONNX file.</summary>
internal static class ExportCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "A model.zip from 'mlnetbert train' (or its run folder), an ML.NET TextClassification / SentenceSimilarity model .zip, or a checkpoint (minilm-l6, arctic-xs, a HuggingFace folder) to export as a sentence-embedding model.", Required = true };
        var output = new Option<string>("--out") { Description = "The ONNX file to write (--format onnx), or the Triton model repository folder (--format triton).", Required = true };
        var format = new Option<string>("--format") { Description = "onnx: one ONNX file | triton: a Triton model repository entry (<name>/config.pbtxt, <name>/1/model.onnx).", DefaultValueFactory = _ => "onnx" };
        var name = new Option<string>("--name") { Description = "Triton model name (the folder under --out).", DefaultValueFactory = _ => "model" };
        var instanceKind = new Option<string>("--instance-kind") { Description = "Triton instance_group kind: cpu | gpu.", DefaultValueFactory = _ => "cpu" };
        var tritonBatch = new Option<int>("--max-batch-size") { Description = "Triton max_batch_size (preferred sizes: a quarter, half and all of it).", DefaultValueFactory = _ => new TritonOptions().MaxBatchSize };
        var queueDelay = new Option<int>("--max-queue-delay-us") { Description = "Triton dynamic batching max_queue_delay_microseconds.", DefaultValueFactory = _ => new TritonOptions().MaxQueueDelayMicroseconds };
        format.AcceptOnlyFromAmong("onnx", "triton");
        instanceKind.AcceptOnlyFromAmong("cpu", "gpu");
        var check = new Option<string?>("--check") { Description = "Sentences to verify the export on (TSV/CSV; the model's text columns; labels, when present, give accuracy). Default: a built-in sample." };
        var tolerance = new Option<double>("--tolerance") { Description = "Largest allowed |ONNX - TorchSharp| difference of logits or scores.", DefaultValueFactory = _ => OnnxParity.DefaultTolerance };
        var hidden = new Option<bool>("--hidden-states") { Description = "Also output every layer's hidden states (hidden_state_0..L), for analysis." };
        var optimize = new Option<bool>("--optimize") { Description = "Use ONNX Runtime's fused transformer ops (faster; ONNX Runtime only)." };
        var quantize = new Option<string?>("--quantize") { Description = "int8: int8 weights, activations quantized at run time (CPU)." };
        var fp16 = new Option<bool>("--fp16") { Description = "Float16 weights and compute (for CUDA); inputs int64, outputs float32." };
        var json = new Option<bool>("--json") { Description = "Print the parity report as JSON." };
        var data = new DataArguments();
        var command = new Command("export",
            """
            Export a trained model to one ONNX file (inputs input_ids, attention_mask, token_type_ids; outputs logits and
            probabilities, or score) that carries its task, labels and tokenizer. Every export is checked against the
            TorchSharp model; a file that fails the check is not written. Checks by variant: float32 (plain or
            --optimize) logits within --tolerance and every label the same; --quantize int8 at least 97% of labels the
            same (differences reported); --fp16 probabilities within 1e-2 and at least 99% of labels the same.

            With --format triton, --out is a Triton model repository: the verified ONNX file goes to <name>/1/model.onnx
            beside a config.pbtxt derived from the file's real inputs and outputs (and checked against them).

            Examples:
              mlnetbert export --model models/runs/my-run/model.zip --out sentiment.onnx --check sst2/dev.tsv
              mlnetbert export --model models/runs/my-run/model.zip --out sentiment-int8.onnx --optimize --quantize int8 --check sst2/dev.tsv
              mlnetbert export --model models/runs/my-run/model.zip --format triton --out repo/ --name sentiment --instance-kind gpu
              mlnetbert export --model minilm-l6 --out minilm-embedding.onnx
            """)
        {
            model, output, format, check, tolerance, hidden, optimize, quantize, fp16, json, name, instanceKind, tritonBatch, queueDelay,
        };
        data.AddTo(command);
        command.SetAction(parse =>
        {
            // Checked before the model loads, so a bad option fails in a moment.
            var triton = new TritonOptions
            {
                MaxBatchSize = parse.GetValue(tritonBatch),
                MaxQueueDelayMicroseconds = parse.GetValue(queueDelay),
                InstanceKind = parse.GetValue(instanceKind) == "gpu" ? TritonInstanceKind.Gpu : TritonInstanceKind.Cpu,
            };
            triton.Validate();
            if (parse.GetValue(format) == "triton")
                TritonRepository.ValidateName(parse.GetValue(name)!);
            // A checkpoint name or HuggingFace folder exports as a sentence-embedding model, as it is; a run folder
            // stands for its model.zip, whichever trainer wrote it.
            bool checkpoint = ModelFile.NamesCheckpoint(parse.GetValue(model)!);
            string modelZip = checkpoint ? parse.GetValue(model)! : RunFolder.ResolveModelZip(parse.GetValue(model)!);
            if (!checkpoint && NasBertOnnxExporter.IsMlNetNasBertZip(modelZip))
                return ExportNasBert(parse, modelZip, parse.GetValue(output)!, parse.GetValue(check), parse.GetValue(tolerance), parse.GetValue(json), data);
            var options = new OnnxExportOptions
            {
                IncludeHiddenStates = parse.GetValue(hidden),
                Optimize = parse.GetValue(optimize),
                Quantize = parse.GetValue(quantize) switch
                {
                    null => OnnxQuantization.None,
                    "int8" => OnnxQuantization.Int8,
                    var other => throw new BadInputException($"--quantize must be int8, not '{other}'"),
                },
                Float16 = parse.GetValue(fp16),
            };
            options.Validate();
            using var file = checkpoint ? ModelFile.OpenEmbedding(modelZip, Console.Error.WriteLine) : ModelFile.Open(modelZip);
            var torch = file.TorchModel ?? throw new BadInputException($"{parse.GetValue(model)}: export needs the trained model.zip, not an ONNX file");
            List<(string, string?)>? rows = null;
            List<int>? labels = null;
            string source = "built-in sample";
            if (parse.GetValue(check) is { } checkFile)
            {
                var table = ReadCheckRows(data, parse, checkFile, torch);
                rows = table.Rows.Take(1000).Select(r => (r.Text, r.Text2)).ToList();
                if (table.Rows.Any(r => r.Label is not null))
                    labels = table.Rows.Take(1000).Select(r => r.Label is null ? -1 : IndexOf(torch.Card.Labels, r.Label)).ToList();
                source = $"{table.Path} ({rows.Count} rows)";
            }
            string written = parse.GetValue(output)!;
            var rule = torch.Task.ParityRule(options, parse.GetValue(tolerance), torch.Card);
            ParityReport report;
            if (parse.GetValue(format) == "triton")
            {
                (report, written) = ExportTriton(torch, written, parse.GetValue(name)!, triton, rows, options, parse.GetValue(tolerance));
            }
            else
            {
                report = TrainedModelExport.Export(torch, written, rows, options, parse.GetValue(tolerance));
            }
            var accuracy = labels is null ? null : report.Accuracy(labels);
            if (parse.GetValue(json))
            {
                var result = ParityFile.ToJson(report, source);
                result["variant"] = options.VariantName;
                result["rule"] = rule.ToString();
                if (accuracy is { } a)
                {
                    result["accuracy"] = a.Actual;
                    result["reference_accuracy"] = a.Reference;
                    result["accuracy_rows"] = a.Rows;
                }
                Console.WriteLine(result.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            }
            else
            {
                Console.WriteLine($"wrote {written} ({options.VariantName}); parity on {source}: {report} (allowed: {rule})");
                if (accuracy is { } a)
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"accuracy on {a.Rows} labelled rows: {options.VariantName} {a.Actual:P2}, fp32 TorchSharp {a.Reference:P2} ({100 * (a.Actual - a.Reference):+0.00;-0.00;0.00} points)"));
            }
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>Exports and verifies the ONNX file beside the repository, then copies it into a Triton model folder and removes it.</summary>
    private static (ParityReport Report, string Written) ExportTriton(BertTaskModel torch, string repository, string name, TritonOptions triton,
        List<(string, string?)>? rows, OnnxExportOptions exportOptions, double tolerance)
    {
        Directory.CreateDirectory(repository);
        string verified = Path.Combine(repository, $".{name}.{Guid.NewGuid():N}.onnx");
        try
        {
            var report = TrainedModelExport.Export(torch, verified, rows, exportOptions, tolerance);
            TritonRepository.Write(verified, repository, name, triton);
            return (report, Path.Combine(repository, name));
        }
        finally
        {
            File.Delete(verified);
        }
    }

    /// <summary>An ML.NET TextClassification / SentenceSimilarity .zip: the NAS-BERT exporter, checked against ML.NET itself.</summary>
    private static int ExportNasBert(ParseResult parse, string zip, string output, string? checkFile, double tolerance, bool json, DataArguments data)
    {
        List<(string, string?)>? rows = null;
        string source = "built-in sample";
        if (checkFile is not null)
        {
            var table = TabularReader.Read(data.Read(parse, checkFile, LabelKind.None));
            rows = table.Rows.Take(1000).Select(r => (r.Text, r.Text2)).ToList();
            source = $"{table.Path} ({rows.Count} rows)";
        }
        var report = NasBertExport.ExportVerified(zip, output, rows, tolerance);
        if (json)
            Console.WriteLine(ParityFile.ToJson(report, source).ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        else
            Console.WriteLine($"wrote {output} (ML.NET NAS-BERT model); parity with ML.NET on {source}: {report}");
        return ExitCodes.Success;
    }

    // Labels are optional in a check file: read them when the file has a label column, for accuracy.
    private static TabularData ReadCheckRows(DataArguments data, ParseResult parse, string path, BertTaskModel torch)
    {
        if (torch.Task.KeyLabel)
        {
            try
            {
                return TabularReader.Read(data.Read(parse, path, torch.Task.FileLabels));
            }
            catch (BadInputException)
            {
                // No usable label column: verify on the texts alone.
            }
        }
        return TabularReader.Read(data.Read(parse, path, LabelKind.None));
    }

    private static int IndexOf(IReadOnlyList<string> labels, string label)
    {
        for (int i = 0; i < labels.Count; i++)
            if (labels[i] == label)
                return i;
        return -1;
    }
}
