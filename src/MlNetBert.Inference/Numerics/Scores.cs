namespace MlNetBert.Inference;

/// <summary>The small vector primitives every layer shares: softmax and arg-max over one row of scores.</summary>
public static class Scores
{
    /// <summary>Softmax of one row, computed in double precision with the maximum subtracted (no overflow).</summary>
    public static float[] Softmax(ReadOnlySpan<float> logits)
    {
        if (logits.IsEmpty)
            return [];
        double max = double.NegativeInfinity;
        foreach (float l in logits)
            max = Math.Max(max, l);
        var result = new float[logits.Length];
        double sum = 0;
        var e = new double[logits.Length];
        for (int i = 0; i < e.Length; i++)
            sum += e[i] = Math.Exp(logits[i] - max);
        for (int i = 0; i < e.Length; i++)
            result[i] = (float)(e[i] / sum);
        return result;
    }

    /// <summary>Softmax of one row (array overload, for LINQ method groups).</summary>
    public static float[] Softmax(float[] logits) => Softmax((ReadOnlySpan<float>)logits);

    /// <summary>The index of the largest value; the first one on ties; 0 for an empty row.</summary>
    public static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++)
            if (values[i] > values[best])
                best = i;
        return best;
    }

    /// <summary>The index of the largest value (array overload, for LINQ method groups).</summary>
    public static int ArgMax(float[] values) => ArgMax((ReadOnlySpan<float>)values);
}
