using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace MlNetBert.Checkpoints;

/// <summary>
/// Reads and writes the safetensors format: an 8-byte little-endian header length, a JSON header mapping each
/// tensor name to its dtype, shape and byte range, then the raw little-endian data. F32, F16 and BF16 are read
/// (as float32); F32 is written. Writing sorts tensors by name, so the same tensors give the same bytes.
/// </summary>
public static class Safetensors
{
    private const long MaxHeaderBytes = 100L * 1024 * 1024;

    public static Dictionary<string, TensorData> Read(string path)
    {
        using var stream = File.OpenRead(path);
        long fileLength = stream.Length;
        Span<byte> lengthBytes = stackalloc byte[8];
        if (fileLength < 8 || stream.Read(lengthBytes) != 8)
            throw new BadInputException($"{path}: truncated safetensors file (no header)");
        long headerLength = BinaryPrimitives.ReadInt64LittleEndian(lengthBytes);
        if (headerLength <= 0 || headerLength > MaxHeaderBytes || 8 + headerLength > fileLength)
            throw new BadInputException($"{path}: damaged safetensors file (header length {headerLength}, file length {fileLength})");
        var headerBytes = new byte[headerLength];
        stream.ReadExactly(headerBytes);
        JsonObject header;
        try
        {
            header = JsonNode.Parse(headerBytes)?.AsObject() ?? throw new JsonException("empty header");
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            throw new BadInputException($"{path}: damaged safetensors header ({ex.Message})", ex);
        }

        long dataStart = 8 + headerLength;
        long dataLength = fileLength - dataStart;
        var result = new Dictionary<string, TensorData>(StringComparer.Ordinal);
        foreach (var (name, node) in header)
        {
            if (name == "__metadata__" || node is null)
                continue;
            string dtype = node["dtype"]?.GetValue<string>() ?? throw new BadInputException($"{path}: tensor '{name}' has no dtype");
            long[] shape = node["shape"]?.AsArray().Select(d => d!.GetValue<long>()).ToArray()
                ?? throw new BadInputException($"{path}: tensor '{name}' has no shape");
            var offsets = node["data_offsets"]?.AsArray().Select(d => d!.GetValue<long>()).ToArray();
            if (offsets is not { Length: 2 })
                throw new BadInputException($"{path}: tensor '{name}' has no data_offsets");
            long count = shape.Aggregate(1L, (a, b) => a * b);
            int width = dtype switch
            {
                "F32" => 4,
                "F16" or "BF16" => 2,
                _ => throw new BadInputException($"{path}: tensor '{name}' has dtype {dtype}; only F32, F16 and BF16 are supported"),
            };
            long begin = offsets[0], end = offsets[1];
            if (begin < 0 || end > dataLength || end - begin != count * width)
                throw new BadInputException($"{path}: tensor '{name}' lies outside the file or has the wrong size (offsets {begin}..{end}, data {dataLength} bytes): the file is truncated or damaged");
            var raw = new byte[end - begin];
            stream.Position = dataStart + begin;
            stream.ReadExactly(raw);
            var data = new float[count];
            switch (dtype)
            {
                case "F32":
                    MemoryMarshal.Cast<byte, float>(raw).CopyTo(data);
                    break;
                case "F16":
                    for (long i = 0; i < count; i++)
                        data[i] = (float)BinaryPrimitives.ReadHalfLittleEndian(raw.AsSpan((int)(i * 2), 2));
                    break;
                default:
                    for (long i = 0; i < count; i++)
                        data[i] = BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(raw.AsSpan((int)(i * 2), 2)) << 16);
                    break;
            }
            result[name] = new TensorData(name, shape, data);
        }
        return result;
    }

    /// <summary>Writes float32 tensors atomically (temporary file, then rename).</summary>
    public static void Write(string path, IEnumerable<TensorData> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var ordered = tensors.OrderBy(t => t.Name, StringComparer.Ordinal).ToList();
        var header = new JsonObject();
        if (metadata is { Count: > 0 })
        {
            var meta = new JsonObject();
            foreach (var (k, v) in metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                meta[k] = v;
            header["__metadata__"] = meta;
        }
        long offset = 0;
        foreach (var t in ordered)
        {
            long bytes = t.ElementCount * 4;
            if (t.Data.LongLength != t.ElementCount)
                throw new InvalidOperationException($"{t.Name}: shape {t.ShapeText} does not match {t.Data.Length} values");
            header[t.Name] = new JsonObject
            {
                ["dtype"] = "F32",
                ["shape"] = new JsonArray(t.Shape.Select(d => (JsonNode)d).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + bytes),
            };
            offset += bytes;
        }
        var headerBytes = Encoding.UTF8.GetBytes(header.ToJsonString());
        int pad = (8 - headerBytes.Length % 8) % 8; // keep the data 8-byte aligned, padded with spaces as the spec allows
        AtomicFile.Write(path, stream =>
        {
            Span<byte> len = stackalloc byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(len, headerBytes.Length + pad);
            stream.Write(len);
            stream.Write(headerBytes);
            for (int i = 0; i < pad; i++)
                stream.WriteByte((byte)' ');
            foreach (var t in ordered)
                stream.Write(MemoryMarshal.AsBytes(t.Data.AsSpan()));
        });
    }
}
