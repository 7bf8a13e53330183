#!/usr/bin/env bash
# The packages, tried the way a new user would try them, on a machine that has never seen this repository.
#
#   bash eng/fresh-machine-test.sh          (.ci/run calls it; KEEP=1 keeps the temp folder for a look afterwards)
#
# 1. packages   `dotnet pack` of the solution (every library and the tool) into a temp folder; the tool package is RID-specific
#               (linux-x64), within nuget.org's 250 MB and without other operating systems' native code; the MlNetBert
#               package carries the build-time fixes (buildTransitive/) and Mono.Cecil.
# 2. no-paths   no packed file holds a path of this machine (the checkout, the NuGet cache, HOME): a baked path
#               works here and nowhere else, which is exactly what this test must not be fooled by.
# 3. tool       `dotnet tool install --tool-path` into an empty folder, then `mlnetbert train` (40 rows, 1 epoch),
#               `mlnetbert predict` and `mlnetbert ui` (the run listed, the page and its scripts served) from a folder
#               outside the repository.
# 4. library    a console app generated outside the repository references every packed library package and
#               Microsoft.ML.OnnxRuntime, fits 1 epoch on 40 rows with an MLContext, saves, reloads with
#               mlContext.Model.Load and predicts; once from its build output and once from its publish output (both
#               must be patched by the package's buildTransitive targets on their own).
#
# Steps 3 and 4 run with HOME, NUGET_PACKAGES and the tool path pointing at empty temp folders. As root on Linux they
# run in a private mount namespace (unshare --mount) in which empty tmpfs mounts cover this machine's NuGet caches and
# this checkout, so nothing can be found by accident there. Where unshare is refused (not root, a container without
# CAP_SYS_ADMIN) they run without that cover, and step 2 is what guards against baked-in paths.
# The machine's NuGet settings stay: environment variables such as NUGET_CERT_REVOCATION_MODE pass through, and the
# user's NuGet.config (its sources) is copied into the fresh HOME.
#
# Third-party packages come from the user's configured sources, as for a user: with empty caches the app's restore
# downloads about 800 MB (libtorch, ONNX Runtime for every OS, ML.NET, ...), which took 9 s on the reference machine
# (docs/benchmarks.md, "Packages"), so no local mirror is needed. Our own packages come only from step 1's fresh pack.
# FRESH_CONFIGURATION (default Release, what `dotnet pack` uses) picks the configuration to pack; .ci/run passes
# Debug so that the pack reuses the build its `dotnet test` just made.
#
# Ends with one line "N passed, N failed" (one test per step above).
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)

if [ "${1:-}" = "--inside" ]; then
  INSIDE=1
else
  INSIDE=0
fi

# ---------------------------------------------------------------------------------------------------------------------
# Shared helpers.
say() { echo "fresh-machine: $*"; }
pass() { say "PASS $1${2:+ ($2)}"; echo "pass $1" >>"$WORK/results"; }
fail() { say "FAIL $1: $2"; echo "fail $1" >>"$WORK/results"; }
elapsed() { echo "$(( $(date +%s) - $1 ))s"; }
# Last lines of a log, indented, for a failure's context.
show() { tail -n "${2:-25}" "$1" | sed 's/^/    | /'; }

# `mlnetbert ui` over the folder holding the run just trained: the runs list names it as completed, and the page and
# its chart library come from the installed tool itself (no network, no files beside it).
ui_check() {
  local port=$((20000 + RANDOM % 20000)) pid answer=1 i
  "$WORK/tools/mlnetbert" ui --runs "$1" --urls "http://127.0.0.1:$port" >"$WORK/logs/ui.log" 2>&1 &
  pid=$!
  for i in $(seq 1 60); do
    if curl -sf "http://127.0.0.1:$port/api/runs" >"$WORK/ui-runs.json" 2>/dev/null; then answer=0; break; fi
    sleep 0.5
  done
  if [ $answer = 0 ]; then
    grep -q '"id":"run","sweep":null,"status":"completed"' "$WORK/ui-runs.json" || { echo "ui: the run is not listed as completed: $(cat "$WORK/ui-runs.json")"; answer=1; }
    # Each answer goes to a file before it is searched: under pipefail, `curl | grep -q` fails whenever grep stops
    # reading before curl has written the whole body (curl exits 23), which the 50 kB script made happen at random.
    { curl -sf "http://127.0.0.1:$port/" -o "$WORK/ui-page.html" && grep -q '/assets/uPlot.iife.min.js' "$WORK/ui-page.html"; } \
      || { echo "ui: no page at /"; answer=1; }
    { curl -sf "http://127.0.0.1:$port/assets/uPlot.iife.min.js" -o "$WORK/ui-uplot.js" && grep -q 'uPlot' "$WORK/ui-uplot.js"; } \
      || { echo "ui: uPlot is not served"; answer=1; }
  else
    echo "ui: no answer on port $port"; cat "$WORK/logs/ui.log"
  fi
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  return $answer
}

# ---------------------------------------------------------------------------------------------------------------------
# Steps 3 and 4, run as the fresh user (inside the mount namespace where possible).
fresh_user_steps() {
  export HOME="$WORK/home" NUGET_PACKAGES="$WORK/nuget-packages"
  # The library's checkpoint cache must land in the fresh HOME's data folder, as it would for a new user.
  unset MLNETBERT_HOME XDG_DATA_HOME XDG_CACHE_HOME XDG_CONFIG_HOME NUGET_HTTP_CACHE_PATH NUGET_PLUGINS_CACHE_PATH
  export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
  local user="$WORK/user"
  cd "$user" || return 1
  say "HOME=$HOME NUGET_PACKAGES=$NUGET_PACKAGES; global packages folder has $(find "$NUGET_PACKAGES" -mindepth 1 -maxdepth 1 | wc -l) entries"

  # --- 3. The tool.
  local start=$(date +%s) log="$WORK/logs/tool.log" ok=1
  {
    dotnet tool install --tool-path "$WORK/tools" --add-source "$WORK/packages" MlNetBert.Cli --version "$VERSION" &&
    "$WORK/tools/mlnetbert" --help >/dev/null &&
    "$WORK/tools/mlnetbert" train --train reviews.tsv --epochs 1 --out "$user/run" &&
    "$WORK/tools/mlnetbert" predict --model "$user/run/model.onnx" --text "A warm, funny and clever film." --json >"$WORK/tool-prediction.json" &&
    ui_check "$user"
  } >"$log" 2>&1 || ok=0
  if [ $ok = 1 ] && grep -Eq '"label":"(positive|negative)"' "$WORK/tool-prediction.json"; then
    pass tool "install ($(du -sh "$WORK/tools" | cut -f1) on disk) + train + predict + ui in $(elapsed "$start"): $(cat "$WORK/tool-prediction.json")"
  else
    fail tool "install, train or predict failed (log: $log)"; show "$log"; cat "$WORK/tool-prediction.json" 2>/dev/null
  fi

  # --- 4. An app of the user's own, referencing the packed libraries.
  start=$(date +%s); log="$WORK/logs/app.log"; ok=1
  local app="$WORK/app"
  (
    cd "$app" &&
    dotnet build -c Release &&
    dotnet bin/Release/net10.0/FreshApp.dll fit "$user/reviews.tsv" "$user/app-model.zip" | tee "$WORK/app-build-run.txt" &&
    dotnet publish -c Release -r linux-x64 --self-contained false -o "$app/published" &&
    dotnet "$app/published/FreshApp.dll" load "$user/app-model.zip" | tee "$WORK/app-publish-run.txt"
  ) >"$log" 2>&1 || ok=0
  local built published
  built=$(grep '^prediction ' "$WORK/app-build-run.txt" 2>/dev/null)
  published=$(grep '^prediction ' "$WORK/app-publish-run.txt" 2>/dev/null)
  if [ $ok = 1 ] && [[ "$built" =~ ^prediction\ (positive|negative)\ 0\.[0-9]{6}$|^prediction\ (positive|negative)\ 1\.000000$ ]] && [ "$built" = "$published" ]; then
    ok=1
  else
    [ $ok = 1 ] && say "app printed '$built' from its build output and '$published' from its publish output"
    ok=0
  fi
  # The two fixes travelled: the copies in both outputs differ from the package's files in the user's cache.
  local original="$NUGET_PACKAGES/microsoft.ml.torchsharp/0.23.1/lib/net8.0/Microsoft.ML.TorchSharp.dll"
  for dir in "$app/bin/Release/net10.0" "$app/published"; do
    if [ ! -f "$dir/Microsoft.ML.TorchSharp.dll" ] || cmp -s "$original" "$dir/Microsoft.ML.TorchSharp.dll"; then
      say "Microsoft.ML.TorchSharp.dll in $dir is not the patched copy"; ok=0
    fi
    local lib
    lib=$(find "$dir" -name libLibTorchSharp.so | head -n 1)
    if command -v readelf >/dev/null && ! grep -q 'GLIBCXX_3.4.32 *Flags: WEAK' <<<"$(readelf -V "$lib" 2>/dev/null)"; then
      # After a build the weakening only runs where the system lacks the version; after a publish it always runs.
      if [ "$dir" = "$app/published" ] || ! grep -aq 'GLIBCXX_3.4.32' /usr/lib/x86_64-linux-gnu/libstdc++.so.6 2>/dev/null; then
        say "GLIBCXX_3.4.32 is not weak in $lib"; ok=0
      fi
    fi
  done
  if [ $ok = 1 ]; then
    pass library "build + fit + save + load, publish + load in $(elapsed "$start"): $built"
  else
    fail library "the outside app failed (log: $log)"; show "$log" 40
  fi
}

if [ $INSIDE = 1 ]; then
  # Re-entered by unshare: WORK, VERSION and the folders to cover come from the outer run's environment.
  IFS=: read -r -a cover <<<"$FRESH_COVER"
  for dir in "${cover[@]}"; do
    [ -d "$dir" ] || continue
    mount -t tmpfs -o size=1m,mode=0755 tmpfs "$dir" || { say "cannot cover $dir"; exit 3; }
  done
  fresh_user_steps
  exit 0
fi

# ---------------------------------------------------------------------------------------------------------------------
# The outer run, as a function so that bash reads all of it before it starts (an edit to this file during a run
# cannot change what the run does).
outer_run() {
command -v dotnet >/dev/null || { echo "dotnet SDK 10.0.4xx is required" >&2; exit 1; }
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mlnetbert-fresh.XXXXXX")
export WORK
cleanup() {
  if [ "${KEEP:-0}" = 1 ]; then say "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
mkdir -p "$WORK"/{packages,logs,home,nuget-packages,user,app}
: >"$WORK/results"
total_start=$(date +%s)

# --- 1. Pack, as a user would: `dotnet pack` of the solution packs every packable project (the test projects are
# not). ContinuousIntegrationBuild maps source paths to /_/ in the PDBs, as any published build should.
# Every project under src/ must come out as a package: the tool (PackAsTool) as the pointer package plus the
# linux-x64 one, each library as one package that an app can reference.
start=$(date +%s); ok=1
libraries=(); tools=()
for project in "$ROOT"/src/*/*.csproj; do
  if grep -q '<PackAsTool>true</PackAsTool>' "$project"; then tools+=("$(basename "$project" .csproj)")
  else libraries+=("$(basename "$project" .csproj)"); fi
done
if ! dotnet pack "$ROOT/MlNetBert.sln" -c "${FRESH_CONFIGURATION:-Release}" -o "$WORK/packages" \
    -p:ContinuousIntegrationBuild=true -nologo >"$WORK/logs/pack.log" 2>&1; then
  ok=0; say "dotnet pack MlNetBert.sln failed"; show "$WORK/logs/pack.log"
fi
VERSION=$(basename "$(ls "$WORK"/packages/MlNetBert.Inference.*.nupkg 2>/dev/null | head -n 1)" .nupkg)
VERSION=${VERSION#MlNetBert.Inference.}
export VERSION
tool_rid="$WORK/packages/MlNetBert.Cli.linux-x64.$VERSION.nupkg"
limit=$((250 * 1000 * 1000))
if [ $ok = 1 ]; then
  for id in "${libraries[@]}" "${tools[@]}" "${tools[@]/%/.linux-x64}"; do
    [ -f "$WORK/packages/$id.$VERSION.nupkg" ] || { say "missing package $id.$VERSION.nupkg"; ok=0; }
  done
fi
if [ $ok = 1 ]; then
  size=$(stat -c %s "$tool_rid")
  installed=$(unzip -l "$tool_rid" | tail -n 1 | awk '{print $1}')
  foreign=$(unzip -Z1 "$tool_rid" | grep -E '/runtimes/|\.dylib$|\.dll\.a$|\.aar$|xcframework|(^|/)(lib)?onnxruntime[^/]*\.dll$|libSkiaSharp\.dll$' || true)
  [ "$size" -lt "$limit" ] || { say "the tool package is $size bytes, over nuget.org's 250 MB"; ok=0; }
  [ -z "$foreign" ] || { say "the linux-x64 tool package carries other platforms' files:"; echo "$foreign" | head; ok=0; }
  # (Listings are read whole first: grep -q leaving a pipe early would fail the pipeline under pipefail.)
  listing=$(unzip -Z1 "$WORK/packages/MlNetBert.$VERSION.nupkg")
  for entry in buildTransitive/MlNetBert.targets buildTransitive/tools/Mono.Cecil.dll buildTransitive/WeakenGlibcxxVersion.cs \
      buildTransitive/PatchMlNetTorchSharp.cs; do
    grep -qx "$entry" <<<"$listing" || { say "MlNetBert package lacks $entry"; ok=0; }
  done
  for package in "$WORK"/packages/*.nupkg; do
    listing=$(unzip -Z1 "$package")
    for entry in LICENSE README.md THIRD-PARTY-NOTICES.md; do
      grep -qx "$entry" <<<"$listing" || { say "$(basename "$package") lacks $entry"; ok=0; }
    done
  done
fi
if [ $ok = 1 ]; then
  sizes=""
  for id in "${libraries[@]}"; do
    sizes="$sizes, $id $(($(stat -c %s "$WORK/packages/$id.$VERSION.nupkg") / 1000)) kB"
  done
  pass packages "packed in $(elapsed "$start"); tool package $((size / 1000000)) MB ($((installed / 1000000)) MB unpacked)$sizes"
else
  fail packages "see above (log: $WORK/logs/pack.log)"
fi

# --- 2. No path of this machine in any packed file. A packed assembly that names the checkout or the NuGet cache
# works here and breaks elsewhere. Strings in .NET metadata are UTF-8 (attribute values, PDB paths) or UTF-16
# (literals), so both encodings are searched.
global_packages=$(dotnet nuget locals global-packages --list 2>/dev/null | sed 's/^global-packages: //')
if [ $ok = 1 ]; then
  mkdir -p "$WORK/unpacked"
  for package in "$WORK"/packages/*.nupkg; do
    # Only the files that can hold a path as text (the native libraries are third-party and large).
    # ([Content_Types].xml is left out: unzip reads [...] as a wildcard, and NuGet writes that file itself.)
    mapfile -t wanted < <(unzip -Z1 "$package" | grep -E '\.(dll|pdb|json|targets|props|xml|nuspec|cs)$' | grep -v '^\[')
    [ ${#wanted[@]} = 0 ] || unzip -qq -o "$package" "${wanted[@]}" -d "$WORK/unpacked/$(basename "$package" .nupkg)"
  done
  hits=$(MACHINE_PATHS="$ROOT:${global_packages%/}:$HOME/" perl -e '
    my @needles;
    for my $p (grep { length > 1 } split /:/, $ENV{MACHINE_PATHS}) {
      push @needles, $p, join("", map { "$_\0" } split //, $p);
    }
    for my $file (@ARGV) {
      open my $fh, "<:raw", $file or next; local $/; my $data = <$fh>; close $fh;
      for my $n (@needles) { if (index($data, $n) >= 0) { (my $shown = $n) =~ s/\0//g; print "$file: $shown\n"; last } }
    }' $(find "$WORK/unpacked" -type f \( -name '*.dll' -o -name '*.pdb' -o -name '*.json' -o -name '*.targets' -o -name '*.props' -o -name '*.xml' -o -name '*.nuspec' -o -name '*.cs' \)))
  if [ -z "$hits" ]; then
    pass no-paths "no packed file names $ROOT, ${global_packages%/} or $HOME"
  else
    fail no-paths "packed files name paths of this machine:"; echo "$hits" | sed "s|$WORK/unpacked/||" | head -n 20
  fi
else
  fail no-paths "nothing packed"
fi

# --- Prepare what the fresh user has: a folder outside the repository with 40 labelled rows, the user's NuGet.config,
# and the app's two files.
head -n 41 "$ROOT/data/sentiment-sample.tsv" >"$WORK/user/reviews.tsv"
user_config="$HOME/.nuget/NuGet/NuGet.Config"
mkdir -p "$WORK/home/.nuget/NuGet"
if [ -f "$user_config" ]; then cp "$user_config" "$WORK/home/.nuget/NuGet/NuGet.Config"; fi

onnxruntime_version=$(sed -n 's/.*PackageVersion Include="Microsoft.ML.OnnxRuntime" Version="\([^"]*\)".*/\1/p' "$ROOT/Directory.Packages.props")
cat >"$WORK/app/FreshApp.csproj" <<EOF
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <TargetFramework>net10.0</TargetFramework>
    <Nullable>enable</Nullable>
    <ImplicitUsings>enable</ImplicitUsings>
  </PropertyGroup>
  <ItemGroup>
$(for id in "${libraries[@]}"; do echo "    <PackageReference Include=\"$id\" Version=\"$VERSION\" />"; done)
    <!-- The app picks the ONNX Runtime native package, as with ML.NET's OnnxTransformer (CPU here). -->
    <PackageReference Include="Microsoft.ML.OnnxRuntime" Version="$onnxruntime_version" />
  </ItemGroup>
</Project>
EOF
cat >"$WORK/app/Program.cs" <<'EOF'
// fit TRAIN.tsv MODEL.zip: fine-tune 1 epoch, save, then load and predict.   load MODEL.zip: load and predict.
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetBert.MlNet;
using MlNetBert.Training;

string modelPath = args[0] == "fit" ? args[2] : args[1];
if (args[0] == "fit")
{
    var ml = new MLContext(seed: 1);
    var train = ml.Data.LoadFromTextFile<Review>(args[1], hasHeader: true, allowQuoting: false);
    var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
        .Append(ml.MulticlassClassification.Trainers.BertTextClassification(new BertTrainingOptions
        {
            TextColumnName = "Sentence",
            Epochs = 1,
        }))
        .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"));
    var model = pipeline.Fit(train);
    ml.Model.Save(model, train.Schema, modelPath);
}

var fresh = new MLContext();
fresh.ComponentCatalog.RegisterMlNetBert();
var loaded = fresh.Model.Load(modelPath, out _);
var engine = fresh.Model.CreatePredictionEngine<Review, Prediction>(loaded);
var p = engine.Predict(new Review { Sentence = "A warm, funny and clever film." });
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"prediction {p.PredictedLabel} {p.Score.Max():F6}"));

public sealed class Review
{
    [LoadColumn(0)] public string Sentence { get; set; } = "";
    [LoadColumn(1)] public string Label { get; set; } = "";
}

public sealed class Prediction
{
    public string PredictedLabel { get; set; } = "";
    public float[] Score { get; set; } = [];
}
EOF

# The app's own nuget.config adds the fresh pack to the user's sources, as a user would add a folder of packages.
cat >"$WORK/app/nuget.config" <<EOF
<configuration>
  <packageSources>
    <add key="mlnetbert-fresh-pack" value="$WORK/packages" />
  </packageSources>
</configuration>
EOF

# --- 3 and 4, as the fresh user. Cover this machine's NuGet caches (the global packages folder, the HTTP cache and the
# user's NuGet folders, wherever NuGet says they are) and this checkout with empty tmpfs mounts, in a mount namespace
# of their own (it ends with the command).
http_cache=$(dotnet nuget locals http-cache --list 2>/dev/null | sed 's/^http-cache: //')
cover="${global_packages%/}:${http_cache%/}:$HOME/.nuget:$HOME/.local/share/NuGet:$ROOT"
if [ "$(id -u)" = 0 ] && unshare --mount true 2>/dev/null; then
  say "running the user's steps in a private mount namespace; covered: $cover"
  FRESH_COVER="$cover" unshare --mount --propagation private bash "$ROOT/eng/fresh-machine-test.sh" --inside || {
    say "the mount namespace run failed"
  }
else
  say "unshare --mount is refused here: the user's steps run with empty HOME and NUGET_PACKAGES, but this machine's caches stay visible (the no-paths step guards against baked-in paths)"
  fresh_user_steps
fi

passed=$(grep -c '^pass ' "$WORK/results")
failed=$(grep -c '^fail ' "$WORK/results")
expected=4
if [ $((passed + failed)) -lt $expected ]; then
  say "$((expected - passed - failed)) of $expected steps reported nothing: counted as failed"
  failed=$((expected - passed))
fi
say "done in $(elapsed "$total_start")"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
}

# One line, so that bash has read the exit too before the run starts.
outer_run; exit $?
