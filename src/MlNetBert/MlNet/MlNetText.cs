using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetBert.Inference;

namespace MlNetBert.MlNet;

/// <summary>
/// Reading a text column as a string, whether it holds text (<c>string</c>) or, for token-level tasks, words (a
/// <c>string[]</c>: what <c>TokenizeIntoWords</c> or a <c>string[]</c> property of a row class makes), which are joined
/// with single spaces: the form a token-level task splits into words again (<c>TextWords</c>).
/// </summary>
internal static class MlNetText
{
    /// <summary>True for a vector of text (<c>string[]</c>), of any length.</summary>
    public static bool IsWords(DataViewType type) => type is VectorDataViewType { ItemType: TextDataViewType };

    /// <summary>True for a vector of text in a schema shape.</summary>
    public static bool IsWords(SchemaShape.Column column) =>
        column.Kind != SchemaShape.Column.VectorKind.Scalar && column.ItemType is TextDataViewType;

    /// <summary>A getter of the column's value as one string (words joined with single spaces).</summary>
    /// <exception cref="BadInputException">A word is empty or contains white space (it would split differently); the message names the column, row and word.</exception>
    public static Func<string> Getter(DataViewRow row, DataViewSchema.Column column)
    {
        if (!IsWords(column.Type))
        {
            var text = row.GetGetter<ReadOnlyMemory<char>>(column);
            ReadOnlyMemory<char> value = default;
            return () =>
            {
                text(ref value);
                return value.ToString();
            };
        }

        var words = row.GetGetter<VBuffer<ReadOnlyMemory<char>>>(column);
        VBuffer<ReadOnlyMemory<char>> buffer = default;
        return () =>
        {
            words(ref buffer);
            var items = buffer.DenseValues().ToList();
            for (int i = 0; i < items.Count; i++)
            {
                var span = items[i].Span;
                if (span.IsEmpty || HasWhiteSpace(span))
                    throw new BadInputException($"column '{column.Name}', row {row.Position + 1}: word {i + 1} ('{items[i]}') is empty or contains white space; a words column holds one word per item");
            }
            return string.Join(' ', items);
        };
    }

    private static bool HasWhiteSpace(ReadOnlySpan<char> span)
    {
        foreach (char c in span)
        {
            if (char.IsWhiteSpace(c))
                return true;
        }
        return false;
    }
}
