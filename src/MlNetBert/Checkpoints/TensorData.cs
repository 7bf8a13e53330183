namespace MlNetBert.Checkpoints;

/// <summary>A named float32 tensor held in managed memory, row-major (the layout safetensors and PyTorch use).</summary>
public sealed record TensorData(string Name, long[] Shape, float[] Data)
{
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);

    public string ShapeText => "[" + string.Join(", ", Shape) + "]";

    /// <summary>The transpose of a 2-D tensor (ONNX MatMul weights are [in, out]; nn.Linear wants [out, in]).</summary>
    public TensorData Transpose2D(string? name = null)
    {
        if (Shape.Length != 2)
            throw new InvalidOperationException($"{Name}: cannot transpose a tensor of shape {ShapeText}");
        int rows = (int)Shape[0], cols = (int)Shape[1];
        var result = new float[Data.Length];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
                result[c * rows + r] = Data[r * cols + c];
        return new TensorData(name ?? Name, [cols, rows], result);
    }
}
