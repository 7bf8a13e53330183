using System.CommandLine;
using System.Globalization;
using MlNetBert.Checkpoints;
using MlNetBert.Data;
using MlNetBert.Training;

namespace MlNetBert.Cli.Commands;

/// <summary><c>mlnetbert augment</c>: new unlabelled texts from training texts, for a teacher to label (<c>train --unlabeled</c>).</summary>
internal static class AugmentCommand
{
    public static Command Create()
    {
        var input = new Option<string>("--data") { Description = "The texts to vary (TSV or CSV; the label column is not read).", Required = true };
        var output = new Option<string>("--out") { Description = "The TSV to write: the text column(s) only, with the input's header names.", Required = true };
        var model = new Option<string>("--model") { Description = "Checkpoint whose word embeddings give the neighbours: minilm-l6 (default), arctic-xs, or a HuggingFace BERT folder. Use the student's.", DefaultValueFactory = _ => CheckpointStore.DefaultName };
        var copies = new Option<int>("--copies") { Description = "New texts per row (duplicates are dropped).", DefaultValueFactory = _ => 1 };
        var replace = new Option<double>("--replace") { Description = "Chance that each replaceable word is replaced, in (0, 1].", DefaultValueFactory = _ => 0.3 };
        var neighbours = new Option<int>("--neighbours") { Description = "A word is replaced by one of its N nearest vocabulary words.", DefaultValueFactory = _ => 15 };
        var minWords = new Option<int>("--min-words") { Description = "Vary only rows of at least N words.", DefaultValueFactory = _ => 1 };
        var seed = new Option<int>("--seed") { Description = "Random seed: the same seed and data give the same file.", DefaultValueFactory = _ => 42 };
        var data = new DataArguments();
        var command = new Command("augment",
            """
            Make new texts from training texts for distillation: each word that is a whole word of the checkpoint's
            vocabulary is, with --replace, swapped for one of its nearest words in the checkpoint's word-embedding space.
            The file has no labels: give it to train --unlabeled, and the teachers label it.

            Examples:
              mlnetbert augment --data sst2/train.tsv --min-words 10 --out sst2-augmented.tsv
              mlnetbert train --train sst2/train.tsv --valid sst2/dev.tsv --teacher models/ensemble --unlabeled sst2-augmented.tsv
            """)
        {
            input, output, model, copies, replace, neighbours, minWords, seed,
        };
        data.AddTo(command);
        command.SetAction(parse =>
        {
            var options = new AugmentationOptions(
                parse.GetValue(copies), parse.GetValue(replace), parse.GetValue(neighbours), parse.GetValue(minWords), parse.GetValue(seed));
            options.Validate();
            var table = TabularReader.Read(data.Read(parse, parse.GetValue(input)!, LabelKind.None));
            var checkpoint = new CheckpointStore(log: Console.Error.WriteLine).Resolve(parse.GetValue(model)!);
            var result = TextAugmentation.WriteTsv(table, parse.GetValue(output)!, checkpoint, options, Console.Error.WriteLine);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"wrote {result.Path}: {result.Written} new texts from {result.AugmentedRows} of {result.SourceRows} rows, {result.ReplacedShare:P1} of replaceable words replaced"));
            return ExitCodes.Success;
        });
        return command;
    }
}
