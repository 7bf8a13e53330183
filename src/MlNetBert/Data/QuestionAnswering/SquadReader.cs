using System.Text.Json;

namespace MlNetBert.Data.QuestionAnswering;

/// <summary>
/// Reads SQuAD v1.1 JSON (<c>{"data": [{"title", "paragraphs": [{"context", "qas": [{"id", "question", "answers":
/// [{"answer_start", "text"}]}]}]}]}</c>). Every answer is checked against its context; every problem is a
/// <see cref="BadInputException"/> naming the file and the question id (or, for a shape problem, the JSON path):
/// <c>dev.json: question 56be4db0acb8001400a502ec: answer 'Denver' is not at 12: the context there reads 'Broncos'</c>.
/// </summary>
/// <remarks>
/// Questions are trimmed; contexts and answers are kept exactly, because <c>answer_start</c> indexes the context. Every
/// answer is kept (dev questions have up to 6): training uses the first (<see cref="QuestionAnswerExample.TrainingAnswer"/>),
/// evaluation all of them. SQuAD 2.0 questions without answers are rejected: this is SQuAD v1.1 extraction.
/// </remarks>
public static class SquadReader
{
    /// <summary>Reads the whole file.</summary>
    /// <exception cref="BadInputException">The file is not SQuAD-shaped JSON, or a question or answer cannot be used.</exception>
    public static QuestionAnswerData Read(string path)
    {
        byte[] bytes = DataFile.ReadBytes(path);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(bytes);
        }
        catch (JsonException ex)
        {
            throw new BadInputException($"{path}:{ex.LineNumber + 1}: invalid JSON ({ex.Message})", ex);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Array)
                throw new BadInputException($"{path}: not SQuAD JSON: expected an object with a \"data\" array of articles");

            var examples = new List<QuestionAnswerExample>();
            var ids = new HashSet<string>(StringComparer.Ordinal);
            int a = 0;
            foreach (var article in data.EnumerateArray())
            {
                var paragraphs = Array(article, "paragraphs", $"data[{a}]", path);
                int p = 0;
                foreach (var paragraph in paragraphs.EnumerateArray())
                {
                    string where = $"data[{a}].paragraphs[{p}]";
                    string context = String(paragraph, "context", where, path);
                    var qas = Array(paragraph, "qas", where, path);
                    int q = 0;
                    foreach (var qa in qas.EnumerateArray())
                    {
                        examples.Add(ReadQuestion(qa, context, $"{where}.qas[{q}]", path, ids));
                        q++;
                    }
                    p++;
                }
                a++;
            }
            if (examples.Count == 0)
                throw new BadInputException($"{path}: no questions");
            return new QuestionAnswerData(path, examples);
        }
    }

    private static QuestionAnswerExample ReadQuestion(JsonElement qa, string context, string where, string path, HashSet<string> ids)
    {
        string id = String(qa, "id", where, path);
        string question = String(qa, "question", where, path).Trim();
        string who = $"{path}: question {id}";
        if (!ids.Add(id))
            throw new BadInputException($"{who}: the id occurs twice");
        if (question.Length == 0)
            throw new BadInputException($"{who}: the question is empty");
        if (context.Trim().Length == 0)
            throw new BadInputException($"{who}: the context is empty");

        var answersJson = Array(qa, "answers", where, path);
        var answers = new List<GoldAnswer>();
        int n = 0;
        foreach (var answer in answersJson.EnumerateArray())
        {
            string at = $"{where}.answers[{n}]";
            string text = String(answer, "text", at, path);
            if (!answer.TryGetProperty("answer_start", out var startJson) || startJson.ValueKind != JsonValueKind.Number || !startJson.TryGetInt32(out int start))
                throw new BadInputException($"{path}: {at}: not SQuAD JSON: expected \"answer_start\" to be an integer");
            var gold = new GoldAnswer(text, start);
            if (QuestionAnswerData.ProblemWith(gold, context) is { } problem)
                throw new BadInputException($"{who}: {problem}");
            answers.Add(gold);
            n++;
        }
        if (answers.Count == 0)
            throw new BadInputException($"{who}: no answers (SQuAD 2.0 unanswerable questions are not supported)");
        return new QuestionAnswerExample(id, question, context, answers);
    }

    private static JsonElement Array(JsonElement parent, string name, string where, string path) =>
        parent.ValueKind == JsonValueKind.Object && parent.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Array
            ? value
            : throw new BadInputException($"{path}: {where}: not SQuAD JSON: expected \"{name}\" to be an array");

    private static string String(JsonElement parent, string name, string where, string path) =>
        parent.ValueKind == JsonValueKind.Object && parent.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()!
            : throw new BadInputException($"{path}: {where}: not SQuAD JSON: expected \"{name}\" to be a string");
}
