using System.CommandLine;
using MlNetBert.Cli.Commands;

namespace MlNetBert.Cli;

public static class Program
{
    public static int Main(string[] args)
    {
        var verbose = new Option<bool>("--verbose") { Description = "Show stack traces on errors.", Recursive = true };
        var root = new RootCommand(
            """
            mlnetbert: fine-tune BERT models for text classification and sentence similarity, evaluate, and predict.

            Example:
              mlnetbert train --train data/sentiment-sample.tsv --epochs 3
            """)
        {
            verbose,
        };
        root.Add(TrainCommand.Create());
        root.Add(EvaluateCommand.Create());
        root.Add(SweepCommand.Create());
        root.Add(ExportCommand.Create());
        root.Add(EnsembleCommand.Create());
        root.Add(AugmentCommand.Create());
        root.Add(PredictCommand.Create());
        root.Add(BenchCommand.Create());
        root.Add(EmbedCommand.Create());
        root.Add(ServeCommand.Create());
        root.Add(AnalyzeCommand.Create());
        root.Add(UiCommand.Create());

        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var error in parse.Errors)
                Console.Error.WriteLine($"error: {error.Message}");
            Console.Error.WriteLine("Run 'mlnetbert --help' for usage.");
            return ExitCodes.BadInput;
        }
        try
        {
            return parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (BadInputException ex)
        {
            Console.Error.WriteLine($"error: {ex.Message}");
            if (parse.GetValue(verbose))
                Console.Error.WriteLine(ex);
            return ExitCodes.BadInput;
        }
        catch (Export.ExportRefusedException ex)
        {
            Console.Error.WriteLine($"error: export refused: {ex.Message}");
            return ExitCodes.ExportRefused;
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("cancelled");
            return ExitCodes.Interrupted;
        }
        catch (Exception ex)
        {
            Console.Error.WriteLine($"internal error: {ex.GetType().Name}: {ex.Message}");
            if (parse.GetValue(verbose))
                Console.Error.WriteLine(ex);
            else
                Console.Error.WriteLine("Run again with --verbose for the stack trace.");
            return ExitCodes.InternalError;
        }
    }
}

/// <summary>Process exit codes, documented in the README.</summary>
public static class ExitCodes
{
    public const int Success = 0;
    public const int InternalError = 1;
    public const int BadInput = 2;

    /// <summary>An export failed its parity rule (for example an int8 file keeping too few labels) and was not written.</summary>
    public const int ExportRefused = 3;

    /// <summary>Stopped by Ctrl-C (SIGINT), 128 + 2.</summary>
    public const int Interrupted = 130;

    /// <summary>Stopped by SIGTERM, 128 + 15.</summary>
    public const int Terminated = 143;
}
