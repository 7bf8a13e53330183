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

    /// <summary>The fitted model card, for tasks whose validation metric needs it (label names); null when not known.</summary>
    public ModelCard? Card { get; init; }

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
        var run = new Run(this, model, train, optimizer, groups, sparse);
        run.ResumeIfSaved();
        try
        {
            for (int epoch = run.State.Epoch; epoch <= o.Epochs; epoch++)
            {
                var epochClock = Stopwatch.StartNew();
                run.TrainEpoch(epoch);
                bool stop = run.EndEpoch(epoch, valid, epochClock.Elapsed);
                if (epoch < o.Epochs && !stop)
                    run.Save();
                if (stop)
                    break;
            }
            run.RestoreBestEpoch();
        }
        finally
        {
            run.DisposeSnapshots();
        }
        model.eval();
        var time = run.Elapsed();
        var state = run.State;
        return new TrainingHistory(state.Epochs, state.Steps, state.BestEpoch, ValidationMetricName, time, state.SamplesSeen / time.TotalSeconds,
            trainable, total, state.RealTokens, state.PaddedTokens)
        {
            PeakWorkingSetBytes = Process.GetCurrentProcess().PeakWorkingSet64,
            BFloat16 = o.UsesBFloat16,
        };
    }

    /// <summary>
    /// One call of <see cref="Train"/>: the model, the optimizer and the schedule, the resumable state, and the parts of
    /// the loop (a batch, an optimizer step, an epoch, its end, checkpoints, weight averaging).
    /// </summary>
    private sealed class Run
    {
        private readonly BertFineTuner _owner;
        private readonly BertTrainingOptions _o;
        private readonly BertClassifier _model;
        private readonly IReadOnlyList<TrainingExample> _train;
        private readonly AdamW _optimizer;
        private readonly List<(AdamW.ParamGroup Group, double Multiplier)> _groups;
        private readonly SparseEmbeddingAdamW? _sparse;
        private readonly List<Parameter> _trainableParameters;
        private readonly TrainingCheckpoint? _checkpoints;
        private readonly Stopwatch _clock = new();
        private readonly int _totalSteps;
        private readonly int _warmupSteps;
        private readonly int _averageAfter;
        private TimeSpan _elapsedBefore;
        private long _samplesThisRun;

        public Run(BertFineTuner owner, BertClassifier model, IReadOnlyList<TrainingExample> train, AdamW optimizer,
            List<(AdamW.ParamGroup Group, double Multiplier)> groups, SparseEmbeddingAdamW? sparse)
        {
            _owner = owner;
            _o = owner._options;
            _model = model;
            _train = train;
            _optimizer = optimizer;
            _groups = groups;
            _sparse = sparse;
            _trainableParameters = groups.SelectMany(g => g.Group.Parameters).ToList();
            if (sparse is not null)
                _trainableParameters.Add(sparse.Weight);
            int batchesPerEpoch = (train.Count + _o.BatchSize - 1) / _o.BatchSize;
            int stepsPerEpoch = (batchesPerEpoch + _o.GradientAccumulationSteps - 1) / _o.GradientAccumulationSteps;
            _totalSteps = stepsPerEpoch * _o.Epochs;
            _warmupSteps = (int)Math.Round(_o.WarmupRatio * _totalSteps);
            // Steps after this one are averaged into the final weights (none when averaging is off).
            _averageAfter = _totalSteps - (int)Math.Round(_o.AverageWeightsOverLast * _totalSteps);
            _checkpoints = _o.Checkpoints is { } settings ? new TrainingCheckpoint(settings.Directory) : null;
        }

        public TrainingState State { get; private set; } = new();

        public TimeSpan Elapsed() => _elapsedBefore + _clock.Elapsed;

        /// <summary>Continues from the saved state when the checkpoint folder has one; starts the clock.</summary>
        public void ResumeIfSaved()
        {
            if (_checkpoints is not null && _checkpoints.Exists)
                State = _checkpoints.Load(_model, _optimizer, _sparse);
            _elapsedBefore = TimeSpan.FromSeconds(State.SecondsBefore);
            _clock.Start();
        }

        public void Save()
        {
            State.SecondsBefore = Elapsed().TotalSeconds;
            _checkpoints?.Save(State, _model, _optimizer, _sparse);
        }

        /// <summary>The epoch's batches from its next unseen one; stops (saving first) at a step boundary when cancelled.</summary>
        public void TrainEpoch(int epoch)
        {
            _model.train();
            // Each epoch's order comes from its own seeded generator, so a resumed run sees the same batches.
            // (Not HashCode.Combine: .NET randomises it per process.)
            var rng = new Random(unchecked(_o.Seed * 7919 + epoch));
            var batches = _o.LengthGroupedBatches ? LengthGroupedBatches(_train, _o.BatchSize, rng) : ShuffledBatches(_train.Count, _o.BatchSize, rng);
            // Mixed precision covers the training steps only; validation, snapshots and exports see the fp32 model.
            _model.Bert.Precision.BFloat16 = _o.UsesBFloat16;
            try
            {
                TrainBatches(epoch, batches);
            }
            finally
            {
                _model.Bert.Precision.BFloat16 = false;
            }
        }

        private void TrainBatches(int epoch, List<int[]> batches)
        {
            for (int b = State.NextBatch; b < batches.Count; b++)
            {
                bool startsStep = b % _o.GradientAccumulationSteps == 0;
                if (startsStep && _o.CancellationToken.IsCancellationRequested)
                {
                    Save();
                    _o.CancellationToken.ThrowIfCancellationRequested();
                }
                using var scope = NewDisposeScope();
                if (startsStep)
                    manual_seed(_o.Seed * 1_000_003L + State.Step); // dropout masks depend on (seed, step) only
                double loss = Backward(batches[b]);
                bool stepNow = (b + 1) % _o.GradientAccumulationSteps == 0 || b == batches.Count - 1;
                if (!stepNow)
                    continue;
                OptimizerStep(epoch, loss, nextBatch: b + 1);
                if (_o.Checkpoints is { EverySteps: > 0 } every && State.Step % every.EverySteps == 0 && b < batches.Count - 1)
                    Save();
            }
        }

        /// <summary>Forward and backward pass of one batch (gradients accumulate); returns the batch's loss.</summary>
        private double Backward(int[] rows)
        {
            var examples = rows.Select(i => _train[i]).ToList();
            // One forward pass per input the task asks for (a bi-encoder: both texts, each padded to its own longest).
            var outputs = new List<Tensor>();
            foreach (var input in _owner._task.ForwardInputs(examples))
            {
                var (ids, mask, types, encoded) = BertInputs.ToTensors(input);
                _sparse?.Collect(encoded.InputIds);
                State.RealTokens += encoded.RealTokens;
                State.PaddedTokens += (long)encoded.BatchSize * encoded.SequenceLength;
                outputs.Add(_model.Forward(ids, mask, types));
            }
            Tensor loss = _o.Distils
                ? _owner._task.DistillationLoss(outputs[0], examples, _o.DistillAlpha, _o.DistillTemperature)
                : _owner._task.Loss(outputs, examples);
            (_o.GradientAccumulationSteps > 1 ? loss / _o.GradientAccumulationSteps : loss).backward();
            double lossValue = loss.item<float>();
            State.EpochLossSum += lossValue * rows.Length;
            State.EpochLossCount += rows.Length;
            State.SamplesSeen += rows.Length;
            _samplesThisRun += rows.Length;
            return lossValue;
        }

        /// <summary>Clips, applies the scheduled learning rate, steps both optimizers, averages, and reports progress.</summary>
        private void OptimizerStep(int epoch, double loss, int nextBatch)
        {
            if (_o.MaxGradNorm > 0)
                nn.utils.clip_grad_norm_(_trainableParameters, _o.MaxGradNorm);
            double lr = ScheduledRate(State.Step, _warmupSteps, _totalSteps, _o.LearningRate);
            foreach (var (group, multiplier) in _groups)
                group.LearningRate = lr * multiplier;
            _optimizer.step();
            _optimizer.zero_grad();
            _sparse?.Step(lr * _sparse.LearningRateMultiplier, State.Step + 1);
            State.Step++;
            State.NextBatch = nextBatch;
            if (State.Step > _averageAfter)
                Accumulate(_model, State);

            double rate = _samplesThisRun / _clock.Elapsed.TotalSeconds;
            var remaining = TimeSpan.FromSeconds((_totalSteps - State.Step) * Elapsed().TotalSeconds / State.Step);
            State.Steps.Add(new StepRecord(State.Step, epoch, loss, lr, rate));
            _o.Progress?.Report(new TrainingProgress(epoch, _o.Epochs, State.Step, _totalSteps, loss, lr, rate, Elapsed(), remaining));
        }

        /// <summary>
        /// After an epoch: the averaged weights on the last one, validation (keeping the best epoch's weights when
        /// asked), the epoch record and report. Returns true when early stopping says to stop.
        /// </summary>
        public bool EndEpoch(int epoch, IReadOnlyList<TrainingExample>? valid, TimeSpan epochTime)
        {
            if (epoch == _o.Epochs && State.AverageWeights is not null)
                CopyInto(_model, State.AverageWeights);
            double? metric = null, validLoss = null;
            if (valid is { Count: > 0 })
            {
                (metric, validLoss) = _owner.Validate(_model, valid);
                if (metric > State.Best)
                {
                    State.Best = metric.Value;
                    State.BestEpoch = epoch;
                    State.SinceBest = 0;
                    if (_o.RestoreBestWeights && epoch < _o.Epochs)
                        State.BestWeights = Snapshot(_model, State.BestWeights);
                }
                else
                {
                    State.SinceBest++;
                }
            }
            else
            {
                State.BestEpoch = epoch;
            }
            var record = new EpochRecord(epoch, State.EpochLossSum / Math.Max(1, State.EpochLossCount), metric, validLoss, epochTime,
                State.EpochLossCount / epochTime.TotalSeconds);
            State.Epochs.Add(record);
            State.Epoch = epoch + 1;
            State.NextBatch = 0;
            State.EpochLossSum = 0;
            State.EpochLossCount = 0;
            _o.Progress?.Report(new TrainingProgress(epoch, _o.Epochs, State.Step, _totalSteps, record.TrainLoss, 0, record.SamplesPerSecond,
                Elapsed(), TimeSpan.FromSeconds((_o.Epochs - epoch) * epochTime.TotalSeconds), EndOfEpoch: true, metric, _owner.ValidationMetricName));
            return _o.EarlyStoppingPatience > 0 && State.SinceBest >= _o.EarlyStoppingPatience;
        }

        /// <summary>Puts the best epoch's weights back when a later epoch was worse.</summary>
        public void RestoreBestEpoch()
        {
            if (State.BestWeights is not null && State.BestEpoch != State.Epochs[^1].Epoch)
                CopyInto(_model, State.BestWeights);
        }

        public void DisposeSnapshots()
        {
            foreach (var weights in new[] { State.BestWeights, State.AverageWeights })
                foreach (var t in weights?.Values ?? Enumerable.Empty<Tensor>())
                    t.Dispose();
        }
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
        _task.Validate(_task.ForwardInputs(valid).Select(input => (IReadOnlyList<float[]>)Predictor.Logits(model, input, 64)).ToList(), valid, Card);

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
