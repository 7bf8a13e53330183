namespace MlNetBert.Cli.Tests;

/// <summary>Every bad input or usage: exit code 2, one clear message naming the file (and line), and nothing left behind.</summary>
[TestClass]
public sealed class BadInputTests
{
    private const string Good = "sentence\tlabel\nA fine film.\tpos\nA dull film.\tneg\nLovely.\tpos\nAwful.\tneg\n";

    // A one-question SQuAD v1.1 file.
    private static string Squad(string context, string question, string answer, int start, string id = "q1") =>
        $$"""{"data":[{"title":"T","paragraphs":[{"context":"{{context}}","qas":[{"id":"{{id}}","question":"{{question}}","answers":[{"answer_start":{{start}},"text":"{{answer}}"}]}]}]}]}""";

    private const string QaHeader = "Context\tQuestion\tTrainingAnswer\tAnswerIndex\n";

    // name, files to create (name → content, "\u0001" prefix = raw bytes as Latin-1), arguments ({dir} = the temp folder), expected message
    public static IEnumerable<object[]> Cases() =>
    [
        ["missing --train", "", "train", "Option '--train' is required"],
        ["file not found", "", "train --train {dir}/nope.tsv", "nope.tsv: file not found"],
        ["a directory", "", "train --train {dir}", "is a directory, expected a file"],
        ["empty file", "t.tsv=", "train --train {dir}/t.tsv", "t.tsv: file is empty"],
        ["header only", "t.tsv=sentence\tlabel\n", "train --train {dir}/t.tsv", "t.tsv: only a header, no rows"],
        ["ragged row", "t.tsv=sentence\tlabel\nok\tpos\nbad\tneg\textra\n", "train --train {dir}/t.tsv", "t.tsv:3: expected 2 fields"],
        ["empty label", "t.tsv=sentence\tlabel\nok\tpos\nfine\t \n", "train --train {dir}/t.tsv", "t.tsv:3: column 'label' is empty"],
        ["one label only", "t.tsv=sentence\tlabel\na\tpos\nb\tpos\nc\tpos\n", "train --train {dir}/t.tsv", "t.tsv: fewer than two distinct labels in column 'label' (found: pos)"],
        ["unknown label in validation", "t.tsv=" + Good + "|v.tsv=sentence\tlabel\nmeh\tneutral\n", "train --train {dir}/t.tsv --valid {dir}/v.tsv", "v.tsv:2: label 'neutral' in column 'label' does not occur in the training data (known: neg, pos)"],
        ["NaN score", "s.tsv=a\tb\tscore\nx\ty\t1.5\nx\tz\tNaN\n", "train --train {dir}/s.tsv --task sentence-similarity --text-column a --text2-column b --label-column score", "s.tsv:3: column 'score' value 'NaN' is not a finite number"],
        ["unparsable score", "s.tsv=a\tb\tscore\nx\ty\tfive\n", "train --train {dir}/s.tsv --task sentence-similarity --text-column a --text2-column b --label-column score", "s.tsv:2: column 'score' value 'five' is not a number"],
        ["invalid UTF-8", "t.tsv=\u0001sentence\tlabel\nok\tpos\nbad \u00ff\u00fe\tneg\n", "train --train {dir}/t.tsv", "t.tsv:3: invalid UTF-8"],
        ["unclosed quote", "t.csv=sentence,label\n\"ok,pos\nfine,neg\n", "train --train {dir}/t.csv", "t.csv:2: unclosed quote"],
        ["missing column", "t.tsv=" + Good, "train --train {dir}/t.tsv --text-column review", "t.tsv: no column named 'review' (columns: sentence, label)"],
        ["zero epochs", "t.tsv=" + Good, "train --train {dir}/t.tsv --epochs 0", "option Epochs = 0 is invalid: expected at least 1"],
        ["bad freeze", "t.tsv=" + Good, "train --train {dir}/t.tsv --freeze sideways", "freeze 'sideways' is not understood"],
        ["bad task", "t.tsv=" + Good, "train --train {dir}/t.tsv --task translation", "--task must be text-classification, pair-classification, sentence-similarity, token-classification, question-answering or sentence-embedding, not 'translation'"],
        ["--loss on a one-loss task", "t.tsv=" + Good, "train --train {dir}/t.tsv --loss multiple-negatives-ranking", "--loss does not apply to task 'text-classification'"],
        ["unknown embedding loss", "s.tsv=a\tb\tscore\nx\ty\t1.5\n", "train --train {dir}/s.tsv --task sentence-embedding --text-column a --text2-column b --loss triplet", "--loss: task 'sentence-embedding' trains with cosine-similarity or multiple-negatives-ranking, not 'triplet'"],
        ["bi-encoder without second column", "t.tsv=" + Good, "train --train {dir}/t.tsv --task sentence-embedding", "--task sentence-embedding needs --text2-column"],
        ["embed without text or input", "", "embed", "pass either --text (repeat for several) or --input FILE --output FILE"],
        ["unknown checkpoint", "t.tsv=" + Good, "train --train {dir}/t.tsv --model bert-giant", "checkpoint 'bert-giant' is neither a built-in name"],
        ["CoNLL bad tag", "t.conll=EU B-ORG\nrejects O\n\nGerman X-MISC\n", "train --task token-classification --train {dir}/t.conll", "t.conll:4: column 1: tag 'X-MISC' is not O, B-TYPE or I-TYPE"],
        ["CoNLL unseen validation tag", "t.conll=EU B-ORG\nrejects O\n\nGermany B-LOC\n|v.conll=EU B-ORG\nvisits O\nParis B-PER\n", "train --task token-classification --train {dir}/t.conll --valid {dir}/v.conll", "v.conll:3: tag 'B-PER' does not occur in the training data"],
        ["tagged table count", "t.tsv=words\ttags\nEU rejects German\tB-ORG O\n", "train --task token-classification --train {dir}/t.tsv", "t.tsv:2: column 'tags': 3 words but 2 tags"],
        ["bad precision", "t.tsv=" + Good, "train --train {dir}/t.tsv --precision fp16", "--precision must be fp32, bf16 or auto, not 'fp16'"],
        ["bad quoting", "t.tsv=" + Good, "train --train {dir}/t.tsv --quoting maybe", "--quoting must be on or off, not 'maybe'"],
        ["pair task without second column", "t.tsv=" + Good, "train --train {dir}/t.tsv --task pair-classification", "needs --text2-column"],
        ["unknown option", "t.tsv=" + Good, "train --train {dir}/t.tsv --epochz", "--epochz"],
        ["unlabeled without teacher", "t.tsv=" + Good, "train --train {dir}/t.tsv --unlabeled {dir}/t.tsv", "--unlabeled needs --teacher: unlabeled texts are labelled by the teachers"],
        ["teacher outputs without teacher", "t.tsv=" + Good, "train --train {dir}/t.tsv --teacher-outputs {dir}/t.tsv", "--teacher-outputs needs --teacher: they are read for the teachers that computed them"],
        ["teacher for a task without distillation", "t.conll=EU B-ORG\nrejects O\n", "train --task token-classification --train {dir}/t.conll --teacher {dir}", "task 'token-classification' cannot be distilled: teachers are supported for text-classification, pair-classification and sentence-similarity"],
        ["distill alpha out of range", "t.tsv=" + Good, "train --train {dir}/t.tsv --teacher {dir} --distill-alpha 1.5", "option DistillAlpha = 1.5 is invalid: expected 0 (teacher only) to 1 (labels only)"],
        ["teacher not found", "t.tsv=" + Good, "train --train {dir}/t.tsv --teacher {dir}/none.onnx", "none.onnx: model file not found"],
        ["augment zero copies", "t.tsv=" + Good, "augment --data {dir}/t.tsv --out {dir}/a.tsv --copies 0", "Copies (--copies) must be at least 1, not 0"],
        ["augment replace out of range", "t.tsv=" + Good, "augment --data {dir}/t.tsv --out {dir}/a.tsv --replace 1.5", "ReplaceProbability (--replace) must be in (0, 1], not 1.5"],
        ["ensemble of one model", "m.onnx=x", "ensemble --model {dir}/m.onnx --out {dir}/e", "an ensemble needs at least 2 models (--model A --model B), got 1"],
        ["run folder not empty", "t.tsv=" + Good + "|run/keep.txt=x", "train --train {dir}/t.tsv", "run folder already exists and is not empty"],
        ["evaluate missing model", "t.tsv=" + Good, "evaluate --model {dir}/none.zip --data {dir}/t.tsv", "none.zip: model file not found"],
        ["evaluate a file that is not a model", "t.tsv=" + Good + "|m.zip=not a zip", "evaluate --model {dir}/m.zip --data {dir}/t.tsv", "m.zip: not an MlNetBert model (not a zip file)"],
        ["predict without text or input", "t.tsv=" + Good + "|m.zip=x", "predict --model {dir}/m.zip", "pass either --text"],
        ["QA answer not at answer_start", "q.json=" + Squad("The bridge opened in 1901.", "When?", "1902", 21), "train --task question-answering --train {dir}/q.json", "q.json: question q1: answer '1902' is not at 21: the context there reads '1901'"],
        ["QA offset out of range", "q.json=" + Squad("The bridge opened in 1901.", "When?", "1901", 400, "a7"), "train --task question-answering --train {dir}/q.json", "q.json: question a7: answer start 400 is outside the context (26 characters)"],
        ["QA empty context", "q.json=" + Squad(" ", "When?", "x", 0), "train --task question-answering --train {dir}/q.json", "q.json: question q1: the context is empty"],
        ["QA empty question", "q.json=" + Squad("The bridge opened in 1901.", " ", "1901", 21), "train --task question-answering --train {dir}/q.json", "q.json: question q1: the question is empty"],
        ["QA JSON not SQuAD-shaped", "q.json={\"version\":\"1.1\",\"articles\":[]}", "train --task question-answering --train {dir}/q.json", "q.json: not SQuAD JSON: expected an object with a \"data\" array of articles"],
        ["QA paragraph without qas", "q.json={\"data\":[{\"paragraphs\":[{\"context\":\"x\"}]}]}", "train --task question-answering --train {dir}/q.json", "q.json: data[0].paragraphs[0]: not SQuAD JSON: expected \"qas\" to be an array"],
        ["QA table answer not at index", "q.tsv=" + QaHeader + "The bridge opened in 1901.\tWhen?\t1901\t21\nIt rained.\tWhat?\train\t0\n", "train --task question-answering --train {dir}/q.tsv", "q.tsv:3: answer 'rain' is not at 0: the context there reads 'It r'"],
        ["QA table empty question", "q.tsv=" + QaHeader + "The bridge opened in 1901.\t \t1901\t21\n", "train --task question-answering --train {dir}/q.tsv", "q.tsv:2: column 'Question' is empty"],
        ["QA evaluate bad validation file", "q.json=" + Squad("The bridge opened in 1901.", "When?", "1901", 21) + "|v.json=" + Squad("It rained.", "What?", "snow", 3, "v9"), "train --task question-answering --train {dir}/q.json --valid {dir}/v.json", "v.json: question v9: answer 'snow' is not at 3: the context there reads 'rain'"],
        ["serve a trained .zip", "m.zip=x", "serve --model {dir}/m.zip", "m.zip: serve runs exported ONNX models, not a trained .zip; export it first: mlnetbert export --model "],
        ["serve a run folder without model.onnx", "r/model.zip=x", "serve --model {dir}/r", "r: run folder without model.onnx; export it first: mlnetbert export --model "],
        ["serve a folder without a model", "r/notes.txt=x", "serve --model {dir}/r", "r: a folder without model.onnx; pass an exported .onnx file or a run folder"],
    ];

    [TestMethod]
    [DynamicData(nameof(Cases))]
    public void BadInput_ExitsWithTwo_NamesTheProblem_AndLeavesNoRunFolder(string name, string files, string arguments, string expected)
    {
        string dir = Paths.TempDir();
        try
        {
            foreach (var spec in files.Split('|', StringSplitOptions.RemoveEmptyEntries))
            {
                int eq = spec.IndexOf('=');
                string path = Path.Combine(dir, spec[..eq]);
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                string content = spec[(eq + 1)..];
                if (content.StartsWith('\u0001'))
                    File.WriteAllBytes(path, content[1..].Select(c => (byte)c).ToArray());
                else
                    File.WriteAllText(path, content);
            }
            string run = Path.Combine(dir, "run");
            var args = arguments.Split(' ').Select(a => a.Replace("{dir}", dir, StringComparison.Ordinal)).ToList();
            if (args[0] == "train")
                args.AddRange(["--out", run, "--epochs", args.Contains("--epochs") ? args[args.IndexOf("--epochs") + 1] : "1"]);
            if (args.Count(a => a == "--epochs") > 1)
                args.RemoveRange(args.Count - 2, 2);
            var before = Directory.GetFileSystemEntries(dir, "*", SearchOption.AllDirectories).OrderBy(p => p).ToArray();

            var r = CliProcess.Run([.. args]);

            Assert.AreEqual(2, r.ExitCode, $"{name}: expected exit code 2; stderr: {r.Stderr} stdout: {r.Stdout}");
            StringAssert.Contains(r.Stderr, expected, $"{name}");
            Assert.AreEqual(1, r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Count(l => l.StartsWith("error", StringComparison.Ordinal)), $"{name}: one error line");
            var after = Directory.GetFileSystemEntries(dir, "*", SearchOption.AllDirectories).OrderBy(p => p).ToArray();
            CollectionAssert.AreEqual(before, after, $"{name}: the command must not leave files or folders behind");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
