namespace MlNetBert.Analysis;

/// <summary>
/// A dense row-major matrix of doubles: the working form of the analysis measures. Inputs arrive as
/// <c>float[]</c> rows (embeddings as the model produced them); every sum is taken in double so that
/// identities such as CKA(X, X) = 1 hold to ~1e-12 rather than to float precision.
/// </summary>
internal sealed class Matrix
{
    public Matrix(int rows, int cols)
    {
        Rows = rows;
        Cols = cols;
        Data = new double[checked(rows * cols)];
    }

    public int Rows { get; }

    public int Cols { get; }

    /// <summary>Element (r, c) is at <c>Data[r * Cols + c]</c>.</summary>
    public double[] Data { get; }

    public double this[int row, int col]
    {
        get => Data[(row * Cols) + col];
        set => Data[(row * Cols) + col] = value;
    }

    public Span<double> Row(int row) => Data.AsSpan(row * Cols, Cols);

    /// <summary>
    /// Copies rectangular rows into a matrix. <paramref name="name"/> is the argument name used in errors.
    /// </summary>
    public static Matrix FromRows(IReadOnlyList<float[]> rows, string name)
    {
        ArgumentNullException.ThrowIfNull(rows, name);
        if (rows.Count == 0)
        {
            throw new ArgumentException($"{name} has no rows (expected at least one point).", name);
        }

        int cols = rows[0]?.Length ?? throw new ArgumentException($"{name}[0] is null.", name);
        if (cols == 0)
        {
            throw new ArgumentException($"{name} rows have no columns (expected at least one dimension).", name);
        }

        var m = new Matrix(rows.Count, cols);
        for (int r = 0; r < rows.Count; r++)
        {
            float[] row = rows[r] ?? throw new ArgumentException($"{name}[{r}] is null.", name);
            if (row.Length != cols)
            {
                throw new ArgumentException(
                    $"{name}[{r}] has {row.Length} values but {name}[0] has {cols} (rows must all be the same width).", name);
            }

            Span<double> target = m.Row(r);
            for (int c = 0; c < cols; c++)
            {
                target[c] = row[c];
            }
        }

        return m;
    }

    /// <summary>A copy with each column's mean subtracted.</summary>
    public Matrix CenterColumns()
    {
        var means = new double[Cols];
        for (int r = 0; r < Rows; r++)
        {
            ReadOnlySpan<double> row = Row(r);
            for (int c = 0; c < Cols; c++)
            {
                means[c] += row[c];
            }
        }

        for (int c = 0; c < Cols; c++)
        {
            means[c] /= Rows;
        }

        var centered = new Matrix(Rows, Cols);
        for (int r = 0; r < Rows; r++)
        {
            ReadOnlySpan<double> source = Row(r);
            Span<double> target = centered.Row(r);
            for (int c = 0; c < Cols; c++)
            {
                target[c] = source[c] - means[c];
            }
        }

        return centered;
    }

    /// <summary>The n×n Gram matrix <c>X Xᵀ</c> of the rows (symmetric; each entry computed once).</summary>
    public Matrix Gram()
    {
        var g = new Matrix(Rows, Rows);
        for (int i = 0; i < Rows; i++)
        {
            ReadOnlySpan<double> a = Row(i);
            for (int j = i; j < Rows; j++)
            {
                double dot = Dot(a, Row(j));
                g[i, j] = dot;
                g[j, i] = dot;
            }
        }

        return g;
    }

    /// <summary><c>thisᵀ · other</c>: a Cols × other.Cols matrix. Both must have the same number of rows.</summary>
    public Matrix TransposeTimes(Matrix other)
    {
        if (other.Rows != Rows)
        {
            throw new ArgumentException($"Row counts differ: {Rows} and {other.Rows}.", nameof(other));
        }

        var product = new Matrix(Cols, other.Cols);

        // Row-by-row outer products keep the innermost loop on contiguous memory of both operands.
        for (int k = 0; k < Rows; k++)
        {
            ReadOnlySpan<double> a = Row(k);
            ReadOnlySpan<double> b = other.Row(k);
            for (int i = 0; i < Cols; i++)
            {
                double ai = a[i];
                if (ai == 0)
                {
                    continue;
                }

                Span<double> target = product.Row(i);
                for (int j = 0; j < b.Length; j++)
                {
                    target[j] += ai * b[j];
                }
            }
        }

        return product;
    }

    /// <summary><c>this · v</c> for a vector of length Cols.</summary>
    public double[] Times(ReadOnlySpan<double> v)
    {
        var result = new double[Rows];
        for (int r = 0; r < Rows; r++)
        {
            result[r] = Dot(Row(r), v);
        }

        return result;
    }

    /// <summary>Sum of element-wise products: the Frobenius inner product ⟨A, B⟩ = tr(Aᵀ B).</summary>
    public static double FrobeniusInner(Matrix a, Matrix b)
    {
        if (a.Rows != b.Rows || a.Cols != b.Cols)
        {
            throw new ArgumentException($"Shapes differ: {a.Rows}×{a.Cols} and {b.Rows}×{b.Cols}.", nameof(b));
        }

        return Dot(a.Data, b.Data);
    }

    public double FrobeniusNorm() => Math.Sqrt(Dot(Data, Data));

    public static double Dot(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        double sum = 0;
        for (int i = 0; i < a.Length; i++)
        {
            sum += a[i] * b[i];
        }

        return sum;
    }
}
