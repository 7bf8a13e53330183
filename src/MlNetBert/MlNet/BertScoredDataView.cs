using MlNetBert.Inference;
using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetBert.Tasks;

namespace MlNetBert.MlNet;

/// <summary>
/// What the scored view and the row mapper need from a model: where its texts are, what it adds, and batched scoring.
/// The TorchSharp model (<see cref="BertTransformer"/>) and an exported ONNX file (<see cref="BertOnnxTransformer"/>)
/// both score through it.
/// </summary>
internal interface IBertRowScorer
{
    /// <summary>The text column, and the second text column for pairs.</summary>
    IReadOnlyList<string> TextColumns { get; }

    /// <summary>The task: which output columns exist and how each reads a prediction.</summary>
    TrainingTask Task { get; }

    string ScoreColumnName { get; }

    /// <summary>Scores a block of rows in one batched call.</summary>
    IReadOnlyList<Prediction> Score(List<string> texts, List<string>? texts2);
}

/// <summary>The output of a BERT transformer's <c>Transform</c>: the input's columns plus the predictions, computed lazily in batches.</summary>
internal sealed class BertScoredDataView : IDataView
{
    private readonly IBertRowScorer _owner;
    private readonly IDataView _input;

    public BertScoredDataView(IBertRowScorer owner, IDataView input, DataViewSchema schema)
    {
        _owner = owner;
        _input = input;
        Schema = schema;
    }

    public bool CanShuffle => false;

    public DataViewSchema Schema { get; }

    public long? GetRowCount() => _input.GetRowCount();

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        var needed = columnsNeeded.ToList();
        int inputCount = _input.Schema.Count;
        bool scoring = needed.Any(c => c.Index >= inputCount);
        var textColumns = _owner.TextColumns.Select(n => _input.Schema[n]).ToList();
        var inputNeeded = needed.Where(c => c.Index < inputCount).Select(c => _input.Schema[c.Index]).ToList();
        var inner = _input.GetRowCursor(inputNeeded);
        var lookahead = scoring ? _input.GetRowCursor(textColumns) : null;
        return new Cursor(this, inner, lookahead, textColumns, needed.Select(c => c.Index).ToHashSet());
    }

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        [GetRowCursor(columnsNeeded, rand)];

    private sealed class Cursor : DataViewRowCursor
    {
        private const int Block = 256;
        private readonly BertScoredDataView _parent;
        private readonly DataViewRowCursor _inner;
        private readonly DataViewRowCursor? _lookahead;
        private readonly Func<string>[] _textGetters;
        private readonly HashSet<int> _active;
        private IReadOnlyList<Prediction> _predictions = [];
        private long _blockStart;
        private int _blockCount;

        public Cursor(BertScoredDataView parent, DataViewRowCursor inner, DataViewRowCursor? lookahead, List<DataViewSchema.Column> textColumns, HashSet<int> active)
        {
            _parent = parent;
            _inner = inner;
            _lookahead = lookahead;
            _textGetters = lookahead is null ? [] : textColumns.Select(c => MlNetText.Getter(lookahead, c)).ToArray();
            _active = active;
        }

        public override DataViewSchema Schema => _parent.Schema;

        public override long Position => _inner.Position;

        public override long Batch => 0;

        public override ValueGetter<DataViewRowId> GetIdGetter() => _inner.GetIdGetter();

        public override bool IsColumnActive(DataViewSchema.Column column) => _active.Contains(column.Index);

        public override bool MoveNext()
        {
            if (!_inner.MoveNext())
                return false;
            if (_lookahead is not null && Position >= _blockStart + _blockCount)
                FillBlock();
            return true;
        }

        private void FillBlock()
        {
            _blockStart = Position;
            var texts = new List<string>(Block);
            var texts2 = _textGetters.Length > 1 ? new List<string>(Block) : null;
            while (texts.Count < Block && _lookahead!.MoveNext())
            {
                texts.Add(_textGetters[0]());
                texts2?.Add(_textGetters[1]());
            }
            _predictions = _parent._owner.Score(texts, texts2);
            _blockCount = texts.Count;
        }

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            int inputCount = _parent._input.Schema.Count;
            if (column.Index < inputCount)
                return _inner.GetGetter<TValue>(_inner.Schema[column.Index]);
            return OutputGetters.Create<TValue>(column, _parent._owner, () => _predictions[(int)(Position - _blockStart)]);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _inner.Dispose();
                _lookahead?.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}

/// <summary>Getters for the task's output columns over the current prediction.</summary>
internal static class OutputGetters
{
    public static ValueGetter<TValue> Create<TValue>(DataViewSchema.Column column, IBertRowScorer owner, Func<Prediction> current) =>
        owner.Task.OutputGetter(column, owner.ScoreColumnName, current) as ValueGetter<TValue>
            ?? throw new InvalidOperationException($"column '{column.Name}' is {column.Type}, not {typeof(TValue).Name}");
}

/// <summary>Serves PredictionEngine: scores the current input row when an output column is read.</summary>
internal sealed class BertRowMapper : IRowToRowMapper
{
    private readonly IBertRowScorer _owner;

    public BertRowMapper(IBertRowScorer owner, DataViewSchema input, DataViewSchema output)
    {
        _owner = owner;
        InputSchema = input;
        OutputSchema = output;
    }

    public DataViewSchema InputSchema { get; }

    public DataViewSchema OutputSchema { get; }

    public IEnumerable<DataViewSchema.Column> GetDependencies(IEnumerable<DataViewSchema.Column> dependingColumns)
    {
        var deps = dependingColumns.Where(c => c.Index < InputSchema.Count).Select(c => InputSchema[c.Index]).ToList();
        if (dependingColumns.Any(c => c.Index >= InputSchema.Count))
            deps.AddRange(_owner.TextColumns.Select(n => InputSchema[n]));
        return deps.Distinct();
    }

    public DataViewRow GetRow(DataViewRow input, IEnumerable<DataViewSchema.Column> activeColumns) =>
        new Row(this, input, activeColumns.Select(c => c.Index).ToHashSet());

    private sealed class Row : DataViewRow
    {
        private readonly BertRowMapper _mapper;
        private readonly DataViewRow _input;
        private readonly HashSet<int> _active;
        private readonly Func<string>[] _text;
        private long _scoredPosition = -1;
        private Prediction? _prediction;

        public Row(BertRowMapper mapper, DataViewRow input, HashSet<int> active)
        {
            _mapper = mapper;
            _input = input;
            _active = active;
            _text = mapper._owner.TextColumns.Select(n => MlNetText.Getter(input, input.Schema[n])).ToArray();
        }

        public override DataViewSchema Schema => _mapper.OutputSchema;

        public override long Position => _input.Position;

        public override long Batch => _input.Batch;

        public override ValueGetter<DataViewRowId> GetIdGetter() => _input.GetIdGetter();

        public override bool IsColumnActive(DataViewSchema.Column column) => _active.Contains(column.Index);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (column.Index < _mapper.InputSchema.Count)
                return _input.GetGetter<TValue>(_input.Schema[column.Index]);
            return OutputGetters.Create<TValue>(column, _mapper._owner, () => { Ensure(); return _prediction!; });
        }

        private void Ensure()
        {
            if (_scoredPosition == _input.Position && _scoredPosition >= 0)
                return;
            List<string>? second = _text.Length > 1 ? [_text[1]()] : null;
            _prediction = _mapper._owner.Score([_text[0]()], second)[0];
            _scoredPosition = _input.Position;
        }
    }
}
