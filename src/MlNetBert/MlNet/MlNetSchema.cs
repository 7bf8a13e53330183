using System.Reflection;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MlNetBert.MlNet;

/// <summary>
/// The two pieces of ML.NET's schema-shape API an estimator needs but ML.NET 5.0.1 keeps internal:
/// <c>SchemaShape.Create(DataViewSchema)</c> and the <c>SchemaShape.Column</c> constructor. Reached by reflection,
/// here only, and covered by the estimator's schema tests, which fail loudly if a future ML.NET moves them.
/// </summary>
internal static class MlNetSchema
{
    private static readonly MethodInfo CreateMethod = typeof(SchemaShape).GetMethod("Create", BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic, [typeof(DataViewSchema)])
        ?? throw new MissingMethodException("Microsoft.ML.SchemaShape.Create(DataViewSchema) not found: this ML.NET version is not supported");

    /// <summary>The shape of a concrete schema (what <c>SchemaShape.Create</c> returns).</summary>
    public static SchemaShape ShapeOf(DataViewSchema schema) => (SchemaShape)CreateMethod.Invoke(null, [schema])!;

    /// <summary>Finds a column by name (the last one wins, as in ML.NET schemas).</summary>
    public static bool TryFind(SchemaShape shape, string name, out SchemaShape.Column column)
    {
        column = default;
        bool found = false;
        foreach (var c in shape)
        {
            if (c.Name == name)
            {
                column = c;
                found = true;
            }
        }
        return found;
    }

    /// <summary>The input shape with the columns of <paramref name="added"/> appended (replacing same-named ones).</summary>
    public static SchemaShape Append(SchemaShape input, DataViewSchema added)
    {
        var addedShape = ShapeOf(added);
        return new SchemaShape(input.Where(c => addedShape.All(a => a.Name != c.Name)).Concat(addedShape));
    }

    /// <summary>Names of a key column's values (its KeyValues annotation), or "0".."n-1" when it has none.</summary>
    public static string[] KeyNames(DataViewSchema.Column column)
    {
        int count = column.Type is KeyDataViewType key ? (int)key.Count : 0;
        var annotation = column.Annotations.Schema.GetColumnOrNull("KeyValues");
        if (annotation is { Type: VectorDataViewType { ItemType: TextDataViewType } })
        {
            VBuffer<ReadOnlyMemory<char>> values = default;
            column.Annotations.GetValue("KeyValues", ref values);
            return values.DenseValues().Select(v => v.ToString()).ToArray();
        }
        return Enumerable.Range(0, count).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
    }

    /// <summary>Adds a vector-of-text annotation (SlotNames, KeyValues).</summary>
    public static void AddTextVector(DataViewSchema.Annotations.Builder builder, string kind, IReadOnlyList<string> values)
    {
        var memory = values.Select(v => v.AsMemory()).ToArray();
        builder.Add(kind, new VectorDataViewType(TextDataViewType.Instance, memory.Length),
            (ref VBuffer<ReadOnlyMemory<char>> v) => v = new VBuffer<ReadOnlyMemory<char>>(memory.Length, memory));
    }

    /// <summary>A column's type as messages show it, for example <c>Key&lt;UInt32&gt;</c> or <c>Single vector</c>.</summary>
    public static string Describe(SchemaShape.Column c) =>
        (c.IsKey ? "Key<" + c.ItemType + ">" : c.ItemType.ToString()) + (c.Kind == SchemaShape.Column.VectorKind.Scalar ? "" : " vector");
}
