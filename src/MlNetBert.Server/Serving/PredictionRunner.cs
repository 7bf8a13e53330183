using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using MlNetBert.Inference;

namespace MlNetBert.Serving;

/// <summary>How a request's inputs reach the model: gathered with other requests', or one model call each.</summary>
internal interface IPredictionRunner : IAsyncDisposable, IDisposable
{
    /// <summary>Predictions for the inputs, in their order.</summary>
    Task<IReadOnlyList<Prediction>> PredictAsync(string[] texts, string[]? texts2, CancellationToken cancellation);
}

/// <summary>
/// Dynamic micro-batching: requests queue on a channel; a worker (one per processor) takes the first waiting request,
/// gathers more until <see cref="ServerOptions.MaxBatchSize"/> inputs or <see cref="ServerOptions.MaxWaitMs"/> have
/// passed, runs them as one <see cref="BertOnnxModel.PredictBatch"/> call (length-sorted runs of at most 16 rows on
/// CPU), and hands each request its own slice of the results.
/// </summary>
/// <remarks>
/// While batches run, new requests wait in the queue, so under load the next batch is full at once and the wait
/// only costs latency when the server is nearly idle. A request is never split across batches. Disposing completes
/// the queue and waits for the requests already in it, so graceful shutdown answers everything it accepted.
/// </remarks>
internal sealed class MicroBatcher : IPredictionRunner
{
    private readonly BertOnnxModel _model;
    private readonly string _name;
    private readonly ServerMetrics _metrics;
    private readonly ILogger _logger;
    private readonly int _maxBatch;
    private readonly int _runSize;
    private readonly TimeSpan _maxWait;
    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>();
    private readonly Task[] _workers;

    public MicroBatcher(BertOnnxModel model, string name, ServerOptions options, ServerMetrics metrics, ILogger logger)
    {
        _model = model;
        _name = name;
        _metrics = metrics;
        _logger = logger;
        _maxBatch = options.MaxBatchSize;
        // PredictBatch sorts the gathered inputs by token length and runs them this many at a time. On CPU, runs of
        // 16 similar-length rows keep the matrix products efficient and pad far less than one run padded to the
        // longest of 32 (about 12% more requests/s on MiniLM, 2 cores); a GPU prefers the whole batch at once.
        _runSize = model.ExecutionProvider == "cuda" ? _maxBatch : Math.Min(_maxBatch, 16);
        _maxWait = TimeSpan.FromMilliseconds(options.MaxWaitMs);
        // One worker per processor, as many model calls at a time as DirectRunner allows: the two modes differ only
        // in batching. While one worker's batch runs, the next fills and goes to another worker.
        _workers = Enumerable.Range(0, Environment.ProcessorCount).Select(_ => Task.Run(WorkAsync)).ToArray();
    }

    public async Task<IReadOnlyList<Prediction>> PredictAsync(string[] texts, string[]? texts2, CancellationToken cancellation)
    {
        var pending = new Pending(texts, texts2, cancellation);
        if (!_queue.Writer.TryWrite(pending))
            throw new ApiException(ErrorCodes.ShuttingDown, "the server is shutting down; send the request to another instance");
        _metrics.Enqueued();
        return await pending.Result.Task.WaitAsync(cancellation);
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await Task.WhenAll(_workers);
    }

    // A host disposed synchronously (using, not await using) still drains the queue before the model goes away.
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    private async Task WorkAsync()
    {
        var reader = _queue.Reader;
        Pending? carried = null;
        var batch = new List<Pending>(_maxBatch);
        while (true)
        {
            batch.Clear();
            if (carried is not null)
            {
                batch.Add(carried);
                carried = null;
            }
            else
            {
                if (!await reader.WaitToReadAsync())
                    return;
                if (!reader.TryRead(out var first))
                    continue;
                batch.Add(first);
            }
            int inputs = batch[0].Texts.Length;
            long deadline = Environment.TickCount64 + (long)_maxWait.TotalMilliseconds;
            while (inputs < _maxBatch)
            {
                if (reader.TryRead(out var next))
                {
                    // A request that would overflow the batch starts the next one, so no request is split.
                    if (inputs + next.Texts.Length > _maxBatch)
                    {
                        carried = next;
                        break;
                    }
                    batch.Add(next);
                    inputs += next.Texts.Length;
                    continue;
                }
                long remaining = deadline - Environment.TickCount64;
                if (remaining <= 0 || !await WaitForMoreAsync(reader, remaining))
                    break;
            }
            _metrics.Dequeued(batch.Count);
            // The model call blocks for tens to hundreds of milliseconds; on a thread of its own it cannot starve the
            // thread pool that Kestrel and the request handlers run on (a 2-core machine starts with 2 pool threads).
            await Task.Factory.StartNew(() => Run(batch), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }
    }

    private static async Task<bool> WaitForMoreAsync(ChannelReader<Pending> reader, long milliseconds)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMilliseconds(milliseconds));
        try
        {
            return await reader.WaitToReadAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private void Run(List<Pending> batch)
    {
        // Requests whose clients went away are dropped before they cost model time.
        var live = new List<Pending>(batch.Count);
        foreach (var p in batch)
        {
            if (p.Cancellation.IsCancellationRequested)
                p.Result.TrySetCanceled(p.Cancellation);
            else
                live.Add(p);
        }
        if (live.Count == 0)
            return;
        var texts = live.SelectMany(p => p.Texts).ToArray();
        string[]? texts2 = live[0].Texts2 is null ? null : live.SelectMany(p => p.Texts2!).ToArray();
        try
        {
            var predictions = _model.PredictBatch(texts, texts2, _runSize);
            _metrics.RecordBatch(_name, texts.Length);
            int offset = 0;
            foreach (var p in live)
            {
                p.Result.TrySetResult(predictions.Skip(offset).Take(p.Texts.Length).ToArray());
                offset += p.Texts.Length;
            }
        }
        catch (Exception ex)
        {
            _logger.LogError(ex, "model call for {Requests} requests ({Inputs} inputs) failed", live.Count, texts.Length);
            foreach (var p in live)
                p.Result.TrySetException(ex);
        }
    }

    private sealed record Pending(string[] Texts, string[]? Texts2, CancellationToken Cancellation)
    {
        // Continuations run on the thread pool, not on the worker, so one slow client cannot stall the next batch.
        public TaskCompletionSource<IReadOnlyList<Prediction>> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}

/// <summary>
/// No batching: each request is one <see cref="BertOnnxModel.PredictBatch"/> call, at most one per processor at a
/// time (the same parallelism as <see cref="MicroBatcher"/>'s workers, so the two modes differ only in batching).
/// </summary>
internal sealed class DirectRunner(BertOnnxModel model, string name, ServerMetrics metrics, int maxBatch) : IPredictionRunner
{
    private readonly SemaphoreSlim _gate = new(Environment.ProcessorCount);

    public async Task<IReadOnlyList<Prediction>> PredictAsync(string[] texts, string[]? texts2, CancellationToken cancellation)
    {
        metrics.Enqueued();
        try
        {
            await _gate.WaitAsync(cancellation);
        }
        finally
        {
            metrics.Dequeued();
        }
        Task<IReadOnlyList<Prediction>> call;
        try
        {
            // On a thread of its own, as in MicroBatcher, so blocked model calls never hold the thread pool.
            call = Task.Factory.StartNew(() =>
            {
                var predictions = model.PredictBatch(texts, texts2, maxBatch);
                metrics.RecordBatch(name, texts.Length);
                return predictions;
            }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }
        catch
        {
            _gate.Release();
            throw;
        }
        // The slot frees when the model call ends, not when the request does: a request that timed out or whose
        // client left stops waiting at once, but its call still occupies a processor until it finishes.
        _ = call.ContinueWith(static (_, gate) => ((SemaphoreSlim)gate!).Release(), _gate, CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        return await call.WaitAsync(cancellation);
    }

    public void Dispose()
    {
        // Take every slot first: a call that outlived its request must finish before the model it runs is freed.
        for (int i = 0; i < Environment.ProcessorCount; i++)
            _gate.Wait();
        _gate.Dispose();
    }

    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }
}
