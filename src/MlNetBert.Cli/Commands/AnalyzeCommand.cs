using System.CommandLine;
using MlNetBert.Analysis;
using MlNetBert.Checkpoints;
using MlNetBert.Data;

namespace MlNetBert.Cli.Commands;

/// <summary><c>mlnetbert analyze</c>: what fine-tuning changed, layer by layer (probes, label clusters, CKA, weight change).</summary>
internal static class AnalyzeCommand
{
    public static Command Create()
    {
        var pretrained = new Option<string?>("--pretrained") { Description = "The checkpoint fine-tuning started from: minilm-l6, arctic-xs, or a HuggingFace BERT folder. Default: the one the fine-tuned model records." };
        var finetuned = new Option<string>("--finetuned") { Description = "The fine-tuned model: a run folder from 'mlnetbert train', or its model.zip.", Required = true };
        var dataFile = new Option<string>("--data") { Description = "Labelled sentences (TSV or CSV) that both models read.", Required = true };
        var maxRows = new Option<int>("--max-rows") { Description = "Analyse a seeded random sample of at most N rows.", DefaultValueFactory = _ => 1000 };
        var seed = new Option<int>("--seed") { Description = "Seed of the sample and of the probes' 70/30 train/test split.", DefaultValueFactory = _ => 42 };
        var maxLength = new Option<int?>("--max-length") { Description = "Maximum tokens per input (default: the fine-tuned model's)." };
        var output = new Option<string>("--out") { Description = "Folder for analysis.json, analysis.md and the plots (created if missing).", Required = true };
        var data = new DataArguments();
        var command = new Command("analyze",
            """
            Compare a fine-tuned model with its pretrained checkpoint, layer by layer (embedding output = layer 0): linear-probe
            accuracy on [CLS] and mean-pooled vectors, label-cluster geometry, linear CKA between the two models, and relative
            weight change. Writes analysis.json, analysis.md and PNG plots.

            Examples:
              mlnetbert analyze --pretrained minilm-l6 --finetuned models/runs/my-run --data sst2/dev.tsv --out analysis/sst2
              mlnetbert analyze --finetuned models/runs/my-run/model.zip --data yelp_labelled.txt --no-header --text-column 0 --label-column 1 --out analysis/yelp
            """)
        {
            pretrained, finetuned, dataFile, maxRows, seed, maxLength, output,
        };
        data.AddTo(command);
        command.SetAction(parse =>
        {
            string outDir = parse.GetValue(output)!;
            if (File.Exists(outDir))
                throw new BadInputException($"{outDir}: --out must be a folder, but a file has that name");
            int rowLimit = parse.GetValue(maxRows);
            if (rowLimit < 10)
                throw new BadInputException($"--max-rows must be at least 10, not {rowLimit} (the probes need sentences to train and test on)");
            int seedValue = parse.GetValue(seed);
            var options = new FineTuningAnalysisOptions
            {
                MaxSentences = rowLimit,
                Seed = seedValue,
                MaxLength = parse.GetValue(maxLength),
                Progress = Console.WriteLine,
            };
            options.Validate();

            string modelPath = parse.GetValue(finetuned)!;
            using var model = FineTuningAnalysis.LoadFineTuned(modelPath);
            var read = data.Read(parse, parse.GetValue(dataFile)!, LabelKind.Categorical, rowLimit, seedValue);
            if (model.Card.Text2Column is not null && read.Text2Column is null)
                throw new BadInputException($"{modelPath}: the model reads sentence pairs; pass --text2-column for the second text");
            var table = TabularReader.Read(read);
            if (table.SkippedRows.Count > 0)
                Console.Error.WriteLine($"{table.Path}: skipped {table.SkippedRows.Count} bad rows (the first: {table.SkippedRows[0]})");

            string checkpointName = parse.GetValue(pretrained) ?? model.Card.Checkpoint;
            var checkpoint = new CheckpointStore(log: Console.Error.WriteLine).Resolve(checkpointName);
            var examples = table.Rows.Select(r => new AnalysisExample(r.Text, r.Text2, r.Label!)).ToList();
            Console.WriteLine($"pretrained {checkpoint.Name} vs fine-tuned {modelPath} on {table.Path} ({examples.Count} rows)");
            var report = FineTuningAnalysis.Run(checkpoint, model, examples, options with { FineTunedName = modelPath, DataName = table.Path });

            var written = FineTuningAnalysis.WriteOutputs(report, outDir);
            Console.WriteLine();
            foreach (string warning in report.Warnings)
                Console.WriteLine($"warning: {warning}");
            foreach (string line in report.Summary)
                Console.WriteLine(line);
            Console.WriteLine();
            Console.WriteLine($"wrote {string.Join(", ", written.Select(Path.GetFileName))} to {Path.GetFullPath(outDir)} ({report.Seconds:F1} s)");
            return ExitCodes.Success;
        });
        return command;
    }
}
