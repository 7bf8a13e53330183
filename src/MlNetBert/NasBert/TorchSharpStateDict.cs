using System.Text;
using MlNetBert.Checkpoints;

namespace MlNetBert.NasBert;

/// <summary>
/// Reads TorchSharp's <c>Module.save</c> format, which ML.NET stores as the <c>TSModel</c> entry of its model .zip:
/// a LEB128 tensor count, then per tensor a length-prefixed UTF-8 name, a LEB128 dtype code, a LEB128 rank, LEB128
/// dimensions and the little-endian element data. Only float32 (code 6) is accepted: ML.NET's NAS-BERT saves nothing else.
/// </summary>
internal static class TorchSharpStateDict
{
    private const int Float32 = 6;
    private const int MaxTensors = 100_000;

    /// <summary>Parses the whole stream; <paramref name="source"/> names it in errors.</summary>
    /// <exception cref="BadInputException">Truncated, malformed, or a dtype other than float32.</exception>
    public static Dictionary<string, TensorData> Read(byte[] bytes, string source)
    {
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("reading little-endian tensor data on a big-endian machine is not implemented");
        var reader = new Reader(bytes, source);
        long count = reader.Leb128();
        if (count is < 1 or > MaxTensors)
            throw new BadInputException($"{source}: tensor count {count} is not plausible; not a TorchSharp state dict");
        var tensors = new Dictionary<string, TensorData>(StringComparer.Ordinal);
        for (long i = 0; i < count; i++)
        {
            string name = reader.String();
            long dtype = reader.Leb128();
            if (dtype != Float32)
                throw new BadInputException($"{source}: tensor '{name}' has dtype code {dtype}; only float32 (6) is supported");
            long rank = reader.Leb128();
            if (rank is < 0 or > 8)
                throw new BadInputException($"{source}: tensor '{name}' has rank {rank}; the data is damaged");
            var shape = new long[rank];
            long elements = 1;
            for (int d = 0; d < rank; d++)
            {
                shape[d] = reader.Leb128();
                elements = checked(elements * shape[d]);
            }
            var data = reader.Floats(elements, name);
            if (!tensors.TryAdd(name, new TensorData(name, shape, data)))
                throw new BadInputException($"{source}: tensor '{name}' appears twice");
        }
        if (reader.Remaining != 0)
            throw new BadInputException($"{source}: {reader.Remaining} bytes follow the last tensor; not a TorchSharp state dict");
        return tensors;
    }

    private sealed class Reader(byte[] bytes, string source)
    {
        private int _at;

        public int Remaining => bytes.Length - _at;

        public long Leb128()
        {
            long value = 0;
            for (int shift = 0; shift < 63; shift += 7)
            {
                if (_at >= bytes.Length)
                    throw Truncated();
                byte b = bytes[_at++];
                value |= (long)(b & 0x7F) << shift;
                if (b < 0x80)
                    return value;
            }
            throw new BadInputException($"{source}: a length at byte {_at} does not end; the data is damaged");
        }

        public string String()
        {
            long length = Leb128();
            if (length < 0 || length > Remaining)
                throw Truncated();
            string text = Encoding.UTF8.GetString(bytes, _at, (int)length);
            _at += (int)length;
            return text;
        }

        public float[] Floats(long count, string name)
        {
            long byteCount = count * sizeof(float);
            if (byteCount > Remaining)
                throw new BadInputException($"{source}: tensor '{name}' needs {byteCount} bytes but only {Remaining} remain; the model is truncated");
            var data = new float[count];
            Buffer.BlockCopy(bytes, _at, data, 0, (int)byteCount);
            _at += (int)byteCount;
            return data;
        }

        private BadInputException Truncated() => new($"{source}: the data ends at byte {bytes.Length} in the middle of a tensor header; the model is truncated");
    }
}
