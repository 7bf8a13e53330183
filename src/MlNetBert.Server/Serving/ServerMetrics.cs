using System.Collections.Concurrent;
using System.Globalization;
using System.Text;

namespace MlNetBert.Serving;

/// <summary>
/// The server's counters, in Prometheus text format at <c>GET /metrics</c>. Written by hand: five series do not need
/// a metrics library, and every name here is documented in the README.
/// </summary>
internal sealed class ServerMetrics
{
    // Latency buckets from 1 ms to 10 s; batch-size buckets as powers of two up to the largest useful batch.
    private static readonly double[] LatencyBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
    private static readonly double[] BatchBuckets = [1, 2, 4, 8, 16, 32, 64, 128, 256];

    private readonly ConcurrentDictionary<(string Route, int Status), long[]> _requests = new();
    private readonly ConcurrentDictionary<string, long[]> _errors = new(StringComparer.Ordinal);
    private readonly Histogram _latency = new(LatencyBuckets);
    private readonly Histogram _batchSize = new(BatchBuckets);
    private long _queueDepth;
    private long _inputs;

    /// <summary>Requests waiting for the model right now.</summary>
    public long QueueDepth => Interlocked.Read(ref _queueDepth);

    public void RecordRequest(string route, int status) =>
        Interlocked.Increment(ref _requests.GetOrAdd((route, status), _ => new long[1])[0]);

    public void RecordError(string code) =>
        Interlocked.Increment(ref _errors.GetOrAdd(code, _ => new long[1])[0]);

    public void RecordPredictLatency(TimeSpan elapsed) => _latency.Observe(elapsed.TotalSeconds);

    /// <summary>One model call with <paramref name="inputs"/> inputs.</summary>
    public void RecordBatch(int inputs)
    {
        _batchSize.Observe(inputs);
        Interlocked.Add(ref _inputs, inputs);
    }

    public void Enqueued() => Interlocked.Increment(ref _queueDepth);

    public void Dequeued(int requests = 1) => Interlocked.Add(ref _queueDepth, -requests);

    /// <summary>The Prometheus text exposition (version 0.0.4).</summary>
    public string Render()
    {
        var text = new StringBuilder(2048);
        Header(text, "mlnetbert_http_requests_total", "counter", "HTTP requests answered, by route template (\"unmatched\" for unknown paths) and status code.");
        foreach (var ((route, status), count) in _requests.OrderBy(kv => kv.Key.Route, StringComparer.Ordinal).ThenBy(kv => kv.Key.Status))
            text.Append(CultureInfo.InvariantCulture, $"mlnetbert_http_requests_total{{route=\"{Escape(route)}\",status=\"{status}\"}} {Interlocked.Read(ref count[0])}\n");
        Header(text, "mlnetbert_errors_total", "counter", "Error responses, by error code (see the README); 5xx codes are server faults.");
        foreach (var (code, count) in _errors.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            text.Append(CultureInfo.InvariantCulture, $"mlnetbert_errors_total{{code=\"{Escape(code)}\"}} {Interlocked.Read(ref count[0])}\n");
        Header(text, "mlnetbert_request_duration_seconds", "histogram", "Time to answer POST /v1/predict, from the request's arrival to its last byte written.");
        _latency.Render(text, "mlnetbert_request_duration_seconds");
        Header(text, "mlnetbert_batch_size", "histogram", "Inputs per model call (with micro-batching, gathered from concurrent requests).");
        _batchSize.Render(text, "mlnetbert_batch_size");
        Header(text, "mlnetbert_inputs_total", "counter", "Inputs predicted.");
        text.Append(CultureInfo.InvariantCulture, $"mlnetbert_inputs_total {Interlocked.Read(ref _inputs)}\n");
        Header(text, "mlnetbert_queue_depth", "gauge", "Prediction requests accepted and waiting for the model.");
        text.Append(CultureInfo.InvariantCulture, $"mlnetbert_queue_depth {QueueDepth}\n");
        return text.ToString();
    }

    private static void Header(StringBuilder text, string name, string type, string help) =>
        text.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} {type}\n");

    private static string Escape(string value) => value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal);

    /// <summary>A fixed-bucket histogram; a lock per observation is cheap next to a model call.</summary>
    private sealed class Histogram(double[] bounds)
    {
        private readonly long[] _counts = new long[bounds.Length + 1];
        private readonly Lock _lock = new();
        private double _sum;
        private long _count;

        public void Observe(double value)
        {
            int bucket = 0;
            while (bucket < bounds.Length && value > bounds[bucket])
                bucket++;
            lock (_lock)
            {
                _counts[bucket]++;
                _sum += value;
                _count++;
            }
        }

        public void Render(StringBuilder text, string name)
        {
            long[] counts;
            double sum;
            long count;
            lock (_lock)
            {
                counts = (long[])_counts.Clone();
                sum = _sum;
                count = _count;
            }
            long cumulative = 0;
            for (int i = 0; i < bounds.Length; i++)
            {
                cumulative += counts[i];
                text.Append(CultureInfo.InvariantCulture, $"{name}_bucket{{le=\"{bounds[i].ToString("R", CultureInfo.InvariantCulture)}\"}} {cumulative}\n");
            }
            text.Append(CultureInfo.InvariantCulture, $"{name}_bucket{{le=\"+Inf\"}} {count}\n");
            text.Append(CultureInfo.InvariantCulture, $"{name}_sum {sum.ToString("R", CultureInfo.InvariantCulture)}\n");
            text.Append(CultureInfo.InvariantCulture, $"{name}_count {count}\n");
        }
    }
}
