using System.Globalization;

namespace MlNetBert.Data;

/// <summary>
/// Reads a labelled text file (TSV or CSV, with or without a header) into rows of text, optional second text and
/// label. Every problem is a <see cref="BadInputException"/> with one line that names the file and, where it
/// applies, the line and column: <c>data.tsv:57: column 'label' is empty</c>.
/// </summary>
/// <remarks>
/// The file is decoded as strict UTF-8 (a leading byte order mark is dropped) and split into lines at '\n' only, so
/// characters such as U+0085 inside a sentence stay text. Rows with problems (wrong field count, empty label,
/// unparsable score) throw, or are collected in <see cref="TabularData.SkippedRows"/> with
/// <see cref="TabularReadOptions.SkipBadRows"/>; problems with the file as a whole always throw.
/// </remarks>
public static class TabularReader
{
    /// <summary>The header names tried, in order, when no text column is named.</summary>
    public static IReadOnlyList<string> DefaultTextColumnNames { get; } = ["sentence", "text", "question"];

    /// <summary>The header name used when no label column is named (else the last column).</summary>
    public const string DefaultLabelColumnName = "label";

    /// <summary>Reads the whole file described by <paramref name="options"/>.</summary>
    /// <exception cref="BadInputException">The file or one of its rows cannot be used; the message says why and where.</exception>
    public static TabularData Read(TabularReadOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        string file = options.Path;
        if (string.IsNullOrWhiteSpace(file))
        {
            throw new BadInputException("no data file given");
        }
        if (options.MaxRows is <= 0)
        {
            throw new BadInputException($"{file}: the row limit must be a positive number (got {options.MaxRows})");
        }

        byte[] bytes = DataFile.ReadBytes(file);
        char separator = options.Separator ?? SeparatorFromExtension(file);
        bool quoting = options.Quoting ?? separator == ',';
        if (separator is '\n' or '\r' || (quoting && separator == '"'))
        {
            throw new BadInputException($"{file}: {SeparatorName(separator)} is not possible; choose another separator");
        }
        string text = DelimitedText.Decode(bytes, file);

        using var records = DelimitedText.Split(text, separator, quoting, file).GetEnumerator();
        if (!records.MoveNext())
        {
            throw new BadInputException($"{file}: file is empty");
        }
        string[]? header = null;
        if (options.HasHeader)
        {
            if (records.Current.Error is { } headerError)
            {
                throw new BadInputException($"{file}:{records.Current.Line}: header: {headerError}");
            }
            header = records.Current.Fields.Select(name => name.Trim()).ToArray();
            if (!records.MoveNext())
            {
                throw new BadInputException($"{file}: only a header, no rows");
            }
        }
        int fieldCount = header?.Length ?? records.Current.Fields.Count;
        var columns = ResolveColumns(options, file, header, fieldCount, separator, quoting);

        var rows = new List<TabularRow>();
        var skipped = new List<string>();
        do
        {
            var record = records.Current;
            string? problem = ToRow(record, columns, options.LabelKind, out var row);
            if (problem is null)
            {
                rows.Add(row!);
                continue;
            }
            string message = $"{file}:{record.Line}: {problem}";
            if (!options.SkipBadRows)
            {
                throw new BadInputException(message);
            }
            skipped.Add(message);
        }
        while (records.MoveNext());

        if (rows.Count == 0)
        {
            throw new BadInputException($"{file}: no usable rows ({skipped.Count} skipped; the first: {skipped[0]})");
        }
        if (options.MaxRows is int max && rows.Count > max)
        {
            int[] keep = DataSplits.SeededSample(rows.Count, max, new Random(options.Seed));
            Array.Sort(keep);
            rows = keep.Select(i => rows[i]).ToList();
        }
        return new TabularData(file, rows, skipped, columns, options.LabelKind);
    }

    // Returns the row's problem (without the "file:line: " prefix), or null and the row.
    private static string? ToRow(DelimitedText.Record record, TabularColumns columns, LabelKind kind, out TabularRow? row)
    {
        row = null;
        var fields = record.Fields;
        if (fields.Count != columns.FieldCount)
        {
            return $"expected {columns.FieldCount} fields ({SeparatorName(columns.Separator)}), found {fields.Count}";
        }
        if (record.Error is not null)
        {
            return record.Error;
        }

        if (kind == LabelKind.None)
        {
            row = new TabularRow(fields[columns.Text.Index], columns.Text2 is { } t ? fields[t.Index] : null, null, null, record.Line);
            return null;
        }
        string label = fields[columns.Label.Index].Trim();
        if (label.Length == 0)
        {
            return $"{columns.Label} is empty";
        }
        float? score = null;
        if (kind == LabelKind.Numeric)
        {
            if (!float.TryParse(label, NumberStyles.Float, CultureInfo.InvariantCulture, out float value))
            {
                return $"{columns.Label} value '{Shorten(label)}' is not a number";
            }
            if (!float.IsFinite(value))
            {
                return $"{columns.Label} value '{Shorten(label)}' is not a finite number";
            }
            score = value;
        }

        string? text2 = columns.Text2 is { } t2 ? fields[t2.Index] : null;
        row = new TabularRow(fields[columns.Text.Index], text2, label, score, record.Line);
        return null;
    }

    private static TabularColumns ResolveColumns(
        TabularReadOptions options, string file, string[]? header, int fieldCount, char separator, bool quoting)
    {
        if (options.LabelKind == LabelKind.None)
        {
            // Unlabelled input (prediction): only the text columns matter.
            string? spec = options.TextColumn ?? DefaultTextColumnNames.FirstOrDefault(name => header?.Contains(name) == true);
            TabularColumn only = spec is not null ? Resolve(spec, file, header, fieldCount) : new TabularColumn(0, header?[0]);
            TabularColumn? second = options.Text2Column is { } s2 ? Resolve(s2, file, header, fieldCount) : null;
            return new TabularColumns(only, second, only, header, fieldCount, separator, quoting);
        }

        // Default names go through Resolve too, so that a header naming 'text' twice is an error, not a guess.
        string? labelSpec = options.LabelColumn
            ?? (header is not null && header.Contains(DefaultLabelColumnName) ? DefaultLabelColumnName : null);
        TabularColumn label = labelSpec is not null
            ? Resolve(labelSpec, file, header, fieldCount)
            : new TabularColumn(fieldCount - 1, header?[^1]);

        string? textSpec = options.TextColumn ?? DefaultTextColumnNames.FirstOrDefault(name => header?.Contains(name) == true);
        TabularColumn text = textSpec is not null
            ? Resolve(textSpec, file, header, fieldCount)
            : label.Index == 0 && fieldCount > 1 ? new TabularColumn(1, header?[1]) : new TabularColumn(0, header?[0]);

        TabularColumn? text2 = options.Text2Column is { } text2Spec ? Resolve(text2Spec, file, header, fieldCount) : null;

        CheckDistinct(text, "text", label, "label");
        if (text2 is not null)
        {
            CheckDistinct(text, "text", text2, "second text");
            CheckDistinct(text2, "second text", label, "label");
        }
        return new TabularColumns(text, text2, label, header, fieldCount, separator, quoting);

        void CheckDistinct(TabularColumn a, string roleA, TabularColumn b, string roleB)
        {
            if (a.Index == b.Index)
            {
                throw new BadInputException(
                    $"{file}: {a} cannot be both the {roleA} and the {roleB} column ({ColumnList(header, fieldCount)})");
            }
        }
    }

    // A name that the header has wins; otherwise all digits mean a 0-based index.
    private static TabularColumn Resolve(string spec, string file, string[]? header, int fieldCount)
    {
        string wanted = spec.Trim();
        if (header is not null)
        {
            int[] matches = Enumerable.Range(0, header.Length).Where(i => header[i] == wanted).ToArray();
            if (matches.Length == 1)
            {
                return new TabularColumn(matches[0], header[matches[0]]);
            }
            if (matches.Length > 1)
            {
                throw new BadInputException(
                    $"{file}: the header names column '{wanted}' {matches.Length} times (at {string.Join(", ", matches)}); give its 0-based index instead");
            }
        }

        if (wanted.Length == 0 || !wanted.All(char.IsAsciiDigit))
        {
            throw new BadInputException(header is not null
                ? $"{file}: no column named '{wanted}' ({ColumnList(header, fieldCount)})"
                : $"{file}: column '{wanted}' is a name, but the file has no header; give a 0-based index ({ColumnList(header, fieldCount)})");
        }
        if (!int.TryParse(wanted, NumberStyles.None, CultureInfo.InvariantCulture, out int index) || index >= fieldCount)
        {
            throw new BadInputException(
                $"{file}: column index {wanted} is out of range (the file has {fieldCount} columns, 0 to {fieldCount - 1})");
        }
        return new TabularColumn(index, header?[index]);
    }

    private static string ColumnList(string[]? header, int fieldCount) =>
        header is not null ? $"columns: {string.Join(", ", header)}" : $"the file has {fieldCount} columns and no header";

    private static char SeparatorFromExtension(string file) =>
        Path.GetExtension(file).ToLowerInvariant() switch
        {
            ".tsv" or ".txt" => '\t',
            ".csv" => ',',
            _ => throw new BadInputException(
                $"{file}: cannot tell the separator from the file name (.tsv and .txt mean tab, .csv means comma); pass --separator"),
        };

    private static string SeparatorName(char separator) => separator switch
    {
        '\t' => "tab-separated",
        ',' => "comma-separated",
        ';' => "semicolon-separated",
        '|' => "pipe-separated",
        _ when char.IsControl(separator) => $"U+{(int)separator:X4}-separated",
        _ => $"'{separator}'-separated",
    };

    // A misconfigured column can put a whole sentence where a label belongs; keep the message to one short line.
    private static string Shorten(string value) => value.Length <= 40 ? value : value[..37] + "...";
}
