using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MlNetBert.Serving;

/// <summary>
/// The API keys a server accepts, read once from <see cref="ServerOptions.ApiKeyFile"/>. Only SHA-256 hashes are
/// kept, and a presented key is hashed and compared with <see cref="CryptographicOperations.FixedTimeEquals"/>:
/// equal-length digests compared in constant time tell an attacker neither how much of a key matched nor its length.
/// </summary>
internal sealed class ApiKeys
{
    private readonly byte[][] _hashes;

    private ApiKeys(byte[][] hashes) => _hashes = hashes;

    /// <summary>Reads one key per line; blank lines and <c>#</c> comments are skipped. Throws <see cref="BadInputException"/> naming the file.</summary>
    public static ApiKeys Load(string file)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(file);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new BadInputException($"--api-key-file {file}: cannot read it ({ex.Message})", ex);
        }
        var keys = lines.Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).ToList();
        if (keys.Count == 0)
            throw new BadInputException($"--api-key-file {file}: no key in it (expected one key per line)");
        if (keys.FirstOrDefault(k => k.Length < 16 || k.Any(char.IsWhiteSpace)) is { } weak)
            throw new BadInputException($"--api-key-file {file}: a key of {weak.Length} characters is too short or holds spaces (expected at least 16 characters without spaces, for example from: openssl rand -hex 32)");
        return new ApiKeys(keys.Select(Hash).ToArray());
    }

    /// <summary>Whether <paramref name="presented"/> is one of the keys. Checks every key, so the time does not say which matched.</summary>
    public bool Accepts(string presented)
    {
        byte[] hash = Hash(presented);
        bool match = false;
        foreach (var key in _hashes)
            match |= CryptographicOperations.FixedTimeEquals(hash, key);
        return match;
    }

    private static byte[] Hash(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));
}

/// <summary>
/// An ASP.NET Core authentication scheme for API keys: <c>Authorization: Bearer KEY</c> or <c>X-Api-Key: KEY</c>.
/// No key: no result (the authorization policy then challenges); a wrong key: a failure. The challenge answers 401
/// with <c>WWW-Authenticate: Bearer</c>; status code pages writes its problem body.
/// </summary>
internal sealed class ApiKeyAuthenticationHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, ApiKeys keys)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";
    public const string HeaderName = "X-Api-Key";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        string? presented = null;
        string authorization = Request.Headers.Authorization.ToString();
        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            presented = authorization["Bearer ".Length..].Trim();
        else if (Request.Headers.TryGetValue(HeaderName, out var header))
            presented = header.ToString().Trim();
        if (string.IsNullOrEmpty(presented))
            return Task.FromResult(AuthenticateResult.NoResult());
        if (!keys.Accepts(presented))
            return Task.FromResult(AuthenticateResult.Fail("the API key is not valid"));
        var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, "api-key")], SchemeName);
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName)));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var result = await HandleAuthenticateOnceSafeAsync();
        Problems.SetDetail(Context, result.Failure is not null
            ? "the API key is not valid (send Authorization: Bearer KEY or X-Api-Key: KEY with a key from the server's --api-key-file)"
            : "this server requires an API key: send Authorization: Bearer KEY or X-Api-Key: KEY");
        Response.StatusCode = 401;
        Response.Headers.WWWAuthenticate = "Bearer";
    }
}
