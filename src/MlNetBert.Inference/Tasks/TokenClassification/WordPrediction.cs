namespace MlNetBert.Inference;

/// <summary>One word of a token-classification input with its predicted tag.</summary>
/// <param name="Text">The word's characters.</param>
/// <param name="Start">Offset of its first character in the input (UTF-16).</param>
/// <param name="End">Offset just past its last character.</param>
/// <param name="Tag">The predicted BIO tag (<c>B-PER</c>, <c>O</c>).</param>
/// <param name="Label">The tag's index in the model's labels.</param>
/// <param name="Score">The tag's probability, 0 to 1.</param>
/// <param name="StartsSpaceWord">Whether it begins a whitespace-separated word of the input (see <see cref="TextWord.StartsSpaceWord"/>).</param>
public sealed record WordPrediction(string Text, int Start, int End, string Tag, int Label, float Score, bool StartsSpaceWord);
