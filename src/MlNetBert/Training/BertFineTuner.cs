using System.Diagnostics;
using MlNetBert.Inference;
using MlNetBert.Modeling;
using MlNetBert.Tasks;
using MlNetBert.Tokenization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MlNetBert.Training;

/// <summary>
/// The fine-tuning loop shared by every task: length-grouped batches with dynamic padding, AdamW with decoupled
/// weight decay (none on biases and LayerNorm, frozen parameters left out), linear warmup then linear decay,
/// gradient clipping and accumulation, validation after each epoch with early stopping, and progress reports.
/// Every step runs inside a dispose scope, so native memory stays flat.
/// </summary>
public sealed class BertFineTuner
{
    private readonly BertTrainingOptions _options;
    private readonly TrainingTask _task;

    public BertFineTuner(BertTrainingOptions options, TrainingTask task)
    {
        options.Validate();
        _options = options;
        _task = task;
    }

    /// <summary>The name of the metric validation reports (higher is better).</summary>
    public string ValidationMetricName => _task.ValidationMetricName;

    /// <summary>
    /// Trains <paramref name="model"/> in place and returns what happened. With <see cref="BertTrainingOptions.Checkpoints"/>
    /// set, state is saved every N steps, at each epoch end and when cancelled, and a saved state is resumed from:
    /// batch order and dropout depend only on the seed, the epoch and the step, so a resumed run ends with the same
    /// weights as an uninterrupted one.
    /// </summary>
    public TrainingHistory Train(BertClassifier model, IReadOnlyList<TrainingExample> train, IReadOnlyList<TrainingExample>? valid)
    {
        var o = _options;
        if (o.Threads is int threads)
            set_num_threads(threads);

        using var sparse = o.SparseEmbeddingUpdates ? SparseEmbeddingAdamW.TryCreate(model, o) : null;
        var (groups, trainable, total) = BuildParameterGroups(model, sparse?.Weight);
        using var optimizer = optim.AdamW(groups.Select(g => g.Group), o.LearningRate, 0.9, 0.999, 1e-8, o.WeightDecay);
        var trainableParameters = groups.SelectMany(g => g.Group.Parameters).ToList();
        if (sparse is not null)
            trainableParameters.Add(sparse.Weight);

        int batchesPerEpoch = (train.Count + o.BatchSize - 1) / o.BatchSize;
        int stepsPerEpoch = (batchesPerEpoch + o.GradientAccumulationSteps - 1) / o.GradientAccumulationSteps;
        int totalSteps = stepsPerEpoch * o.Epochs;
        int warmupSteps = (int)Math.Round(o.WarmupRatio * totalSteps);
        // Steps after this one are averaged into the final weights (none when averaging is off).
        int averageAfter = totalSteps - (int)Math.Round(o.AverageWeightsOverLast * totalSteps);

        var state = new TrainingState();
        var checkpoints = o.Checkpoints is { } settings ? new TrainingCheckpoint(settings.Directory) : null;
        if (checkpoints is not null && checkpoints.Exists)
            state = checkpoints.Load(model, optimizer, sparse);
        var clock = Stopwatch.StartNew();
        var elapsedBefore = TimeSpan.FromSeconds(state.SecondsBefore);
        TimeSpan Elapsed() => elapsedBefore + clock.Elapsed;
        long samplesThisRun = 0;

        void Save()
        {
            state.SecondsBefore = Elapsed().TotalSeconds;
            checkpoints?.Save(state, model, optimizer, sparse);
        }

        try
        {
            for (int epoch = state.Epoch; epoch <= o.Epochs; epoch++)
            {
                model.train();
                var epochClock = Stopwatch.StartNew();
                // Each epoch's order comes from its own seeded generator, so a resumed run sees the same batches.
                // (Not HashCode.Combine: .NET randomises it per process.)
                var rng = new Random(unchecked(o.Seed * 7919 + epoch));
                var batches = o.LengthGroupedBatches ? LengthGroupedBatches(train, o.BatchSize, rng) : ShuffledBatches(train.Count, o.BatchSize, rng);
                for (int b = state.NextBatch; b < batches.Count; b++)
                {
                    bool startsStep = b % o.GradientAccumulationSteps == 0;
                    if (startsStep && o.CancellationToken.IsCancellationRequested)
                    {
                        Save();
                        o.CancellationToken.ThrowIfCancellationRequested();
                    }
                    using (var scope = NewDisposeScope())
                    {
                        if (startsStep)
                            manual_seed(o.Seed * 1_000_003L + state.Step); // dropout masks depend on (seed, step) only
                        var rows = batches[b];
                        var (ids, mask, types, encoded) = BertInputs.ToTensors(rows.Select(i => train[i].Input).ToList());
                        sparse?.Collect(encoded.InputIds);
                        state.RealTokens += encoded.RealTokens;
                        state.PaddedTokens += (long)encoded.BatchSize * encoded.SequenceLength;
                        var logits = model.Forward(ids, mask, types);
                        Tensor loss = _task.Loss(logits, rows.Select(i => train[i]).ToList());
                        (o.GradientAccumulationSteps > 1 ? loss / o.GradientAccumulationSteps : loss).backward();
                        double lossValue = loss.item<float>();
                        state.EpochLossSum += lossValue * rows.Length;
                        state.EpochLossCount += rows.Length;
                        state.SamplesSeen += rows.Length;
                        samplesThisRun += rows.Length;

                        bool stepNow = (b + 1) % o.GradientAccumulationSteps == 0 || b == batches.Count - 1;
                        if (!stepNow)
                            continue;
                        if (o.MaxGradNorm > 0)
                            nn.utils.clip_grad_norm_(trainableParameters, o.MaxGradNorm);
                        double lr = ScheduledRate(state.Step, warmupSteps, totalSteps, o.LearningRate);
                        foreach (var (group, multiplier) in groups)
                            group.LearningRate = lr * multiplier;
                        optimizer.step();
                        optimizer.zero_grad();
                        sparse?.Step(lr * sparse.LearningRateMultiplier, state.Step + 1);
                        state.Step++;
                        state.NextBatch = b + 1;
                        if (state.Step > averageAfter)
                            Accumulate(model, state);

                        double rate = samplesThisRun / clock.Elapsed.TotalSeconds;
                        var remaining = TimeSpan.FromSeconds((totalSteps - state.Step) * Elapsed().TotalSeconds / state.Step);
                        state.Steps.Add(new StepRecord(state.Step, epoch, lossValue, lr, rate));
                        o.Progress?.Report(new TrainingProgress(epoch, o.Epochs, state.Step, totalSteps, lossValue, lr, rate, Elapsed(), remaining));
                        if (o.Checkpoints is { EverySteps: > 0 } every && state.Step % every.EverySteps == 0 && b < batches.Count - 1)
                            Save();
                    }
                }

                if (epoch == o.Epochs && state.AverageWeights is not null)
                    CopyInto(model, state.AverageWeights);
                double? metric = null, validLoss = null;
                if (valid is { Count: > 0 })
                {
                    (metric, validLoss) = Validate(model, valid);
                    if (metric > state.Best)
                    {
                        state.Best = metric.Value;
                        state.BestEpoch = epoch;
                        state.SinceBest = 0;
                        if (o.RestoreBestWeights && epoch < o.Epochs)
                            state.BestWeights = Snapshot(model, state.BestWeights);
                    }
                    else
                    {
                        state.SinceBest++;
                    }
                }
                else
                {
                    state.BestEpoch = epoch;
                }
                var record = new EpochRecord(epoch, state.EpochLossSum / Math.Max(1, state.EpochLossCount), metric, validLoss, epochClock.Elapsed,
                    state.EpochLossCount / epochClock.Elapsed.TotalSeconds);
                state.Epochs.Add(record);
                state.Epoch = epoch + 1;
                state.NextBatch = 0;
                state.EpochLossSum = 0;
                state.EpochLossCount = 0;
                o.Progress?.Report(new TrainingProgress(epoch, o.Epochs, state.Step, totalSteps, record.TrainLoss, 0, record.SamplesPerSecond,
                    Elapsed(), TimeSpan.FromSeconds((o.Epochs - epoch) * epochClock.Elapsed.TotalSeconds), EndOfEpoch: true, metric, ValidationMetricName));
                bool stop = o.EarlyStoppingPatience > 0 && state.SinceBest >= o.EarlyStoppingPatience;
                if (epoch < o.Epochs && !stop)
                    Save();
                if (stop)
                    break;
            }

            // Restore the best epoch's weights when a later epoch was worse.
            if (state.BestWeights is not null && state.BestEpoch != state.Epochs[^1].Epoch)
                CopyInto(model, state.BestWeights);
        }
        finally
        {
            foreach (var weights in new[] { state.BestWeights, state.AverageWeights })
                foreach (var t in weights?.Values ?? Enumerable.Empty<Tensor>())
                    t.Dispose();
        }
        model.eval();
        var time = Elapsed();
        return new TrainingHistory(state.Epochs, state.Steps, state.BestEpoch, ValidationMetricName, time, state.SamplesSeen / time.TotalSeconds,
            trainable, total, state.RealTokens, state.PaddedTokens);
    }

    /// <summary>Linear warmup from 0 to the peak, then linear decay to 0 at the last step.</summary>
    public static double ScheduledRate(int step, int warmupSteps, int totalSteps, double peak)
    {
        if (step < warmupSteps)
            return peak * (step + 1) / warmupSteps;
        return peak * Math.Max(0.0, (double)(totalSteps - step) / Math.Max(1, totalSteps - warmupSteps));
    }

    /// <summary>
    /// Shuffles, cuts the data into chunks of 50 batches, sorts each chunk by length, cuts batches and shuffles the
    /// batch order: batches hold similar lengths (little padding) while order stays random. Seeded by <paramref name="rng"/>.
    /// </summary>
    public static List<int[]> LengthGroupedBatches(IReadOnlyList<TrainingExample> data, int batchSize, Random rng)
    {
        var order = Enumerable.Range(0, data.Count).ToArray();
        rng.Shuffle(order);
        int chunk = batchSize * 50;
        var batches = new List<int[]>();
        for (int start = 0; start < order.Length; start += chunk)
        {
            var sorted = order.AsSpan(start, Math.Min(chunk, order.Length - start)).ToArray();
            Array.Sort(sorted, (a, b) => data[a].Input.Length.CompareTo(data[b].Input.Length));
            for (int s = 0; s < sorted.Length; s += batchSize)
                batches.Add(sorted.AsSpan(s, Math.Min(batchSize, sorted.Length - s)).ToArray());
        }
        var shuffled = batches.ToArray();
        rng.Shuffle(shuffled);
        return [.. shuffled];
    }

    /// <summary>Shuffled file order cut into batches: the plain loop, kept for benchmarks.</summary>
    public static List<int[]> ShuffledBatches(int count, int batchSize, Random rng)
    {
        var order = Enumerable.Range(0, count).ToArray();
        rng.Shuffle(order);
        var batches = new List<int[]>();
        for (int s = 0; s < order.Length; s += batchSize)
            batches.Add(order.AsSpan(s, Math.Min(batchSize, order.Length - s)).ToArray());
        return batches;
    }


    /// <summary>Validation: the task's metric (accuracy, Spearman...) and the mean loss.</summary>
    private (double Metric, double Loss) Validate(BertClassifier model, IReadOnlyList<TrainingExample> valid) =>
        _task.Validate(Predictor.Logits(model, valid.Select(v => v.Input).ToList(), 64), valid);

    /// <summary>
    /// The learning-rate multiplier of an encoder parameter under layer-wise decay: decay^(L + 1 - depth), where the
    /// embeddings have depth 0, encoder layer i (0-based) depth i + 1, and the pooler depth L + 1 (multiplier 1, as for
    /// the head).
    /// </summary>
    internal static double LayerwiseMultiplier(string encoderParameterName, int layers, double decay)
    {
        if (decay >= 1.0)
            return 1.0;
        int depth = BertParameterNames.IsEmbedding(encoderParameterName) ? 0
            : BertParameterNames.EncoderLayer(encoderParameterName) is { } layer ? layer + 1
            : layers + 1;
        return Math.Pow(decay, layers + 1 - depth);
    }

    private (List<(AdamW.ParamGroup Group, double Multiplier)> Groups, long Trainable, long Total) BuildParameterGroups(BertClassifier model, Parameter? updatedElsewhere)
    {
        var o = _options;
        int layers = model.Bert.Config.NumHiddenLayers;
        var buckets = new SortedDictionary<(double Multiplier, bool Decay), List<Parameter>>();
        long trainable = 0, total = 0;
        foreach (var (name, p) in model.named_parameters())
        {
            total += p.numel();
            bool isEncoder = name.StartsWith("bert.", StringComparison.Ordinal);
            string encoderName = isEncoder ? name["bert.".Length..] : name;
            if (isEncoder && o.Freeze.IsFrozen(encoderName))
            {
                p.requires_grad = false;
                continue;
            }
            p.requires_grad = true;
            trainable += p.numel();
            if (ReferenceEquals(p, updatedElsewhere))
                continue;
            bool decay = !(name.EndsWith(".bias", StringComparison.Ordinal) || name.Contains("LayerNorm", StringComparison.Ordinal));
            double multiplier = isEncoder ? LayerwiseMultiplier(encoderName, layers, o.LayerwiseLearningRateDecay) : 1.0;
            if (!buckets.TryGetValue((multiplier, decay), out var list))
                buckets[(multiplier, decay)] = list = [];
            list.Add(p);
        }
        var groups = buckets.Select(kv => (new AdamW.ParamGroup(kv.Value, o.LearningRate * kv.Key.Multiplier, 0.9, 0.999, 1e-8,
            kv.Key.Decay ? o.WeightDecay : 0.0, false, false), kv.Key.Multiplier)).ToList();
        return (groups, trainable, total);
    }

    /// <summary>Adds the current weights to the running average: avg += (w - avg) / n.</summary>
    private static void Accumulate(BertClassifier model, TrainingState state)
    {
        using var noGrad = no_grad();
        state.AverageCount++;
        if (state.AverageWeights is null)
        {
            state.AverageWeights = Snapshot(model, null);
            return;
        }
        double weight = 1.0 / state.AverageCount;
        foreach (var (name, p) in model.named_parameters())
        {
            if (!p.requires_grad)
                continue; // frozen: equal to its average already
            using var current = p.detach();
            state.AverageWeights[name].lerp_(current, weight); // in place, no temporary the size of the weights
        }
    }

    private static void CopyInto(BertClassifier model, Dictionary<string, Tensor> weights)
    {
        using var noGrad = no_grad();
        foreach (var (name, p) in model.named_parameters())
            p.copy_(weights[name]);
    }

    private static Dictionary<string, Tensor> Snapshot(BertClassifier model, Dictionary<string, Tensor>? previous)
    {
        if (previous is not null)
            foreach (var t in previous.Values)
                t.Dispose();
        var state = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        using var noGrad = no_grad();
        foreach (var (name, p) in model.named_parameters())
            state[name] = p.detach().clone().DetachFromDisposeScope(); // kept across steps, disposed by the caller
        return state;
    }
}
