#!/usr/bin/env bash
# Downloads the public benchmark datasets that the MlNetBert tests read from $MLNETBERT_DATA.
# Usage: data/fetch-datasets.sh [target-folder]   (default: ./datasets)
# Needs network access, curl, unzip and iconv. See data/README.md for sources and licences.
# The files land outside the repository on purpose: never commit them.
set -euo pipefail

target="${1:-./datasets}"

for tool in curl unzip iconv awk; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "error: '$tool' is required but was not found on PATH; install it and run this script again." >&2
    exit 1
  fi
done

mkdir -p "$target"
target="$(cd "$target" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

fetch() { # fetch URL FILE
  echo "  downloading $1"
  curl -fsSL --retry 3 -o "$2" "$1"
}

# Strips CR line endings and makes sure the file ends with a newline.
to_lf() { awk '{ sub(/\r$/, ""); print }' "$1" > "$2"; }

GLUE=https://dl.fbaipublicfiles.com/glue/data
SENTEVAL=https://dl.fbaipublicfiles.com/senteval/senteval_data

echo "==> SST-2 (GLUE) -> $target/sst2"
fetch "$GLUE/SST-2.zip" "$tmp/SST-2.zip"
unzip -q -o "$tmp/SST-2.zip" -d "$tmp"
mkdir -p "$target/sst2"
cp "$tmp/SST-2/train.tsv" "$tmp/SST-2/dev.tsv" "$target/sst2/"

echo "==> STS-B (GLUE) -> $target/stsb"
fetch "$GLUE/STS-B.zip" "$tmp/STS-B.zip"
unzip -q -o "$tmp/STS-B.zip" -d "$tmp"
mkdir -p "$target/stsb"
cp "$tmp/STS-B/train.tsv" "$tmp/STS-B/dev.tsv" "$target/stsb/"
for f in LICENSE.txt readme.txt; do
  if [[ -f "$tmp/STS-B/$f" ]]; then cp "$tmp/STS-B/$f" "$target/stsb/"; fi
done

echo "==> MRPC (GLUE split of the Microsoft corpus) -> $target/mrpc"
echo "    Licence: Microsoft Research Shared Source License, NON-COMMERCIAL use only."
fetch "$SENTEVAL/msr_paraphrase_train.txt" "$tmp/msr_train.txt"
fetch "$GLUE/mrpc_dev_ids.tsv" "$tmp/mrpc_dev_ids.tsv"
mkdir -p "$target/mrpc"
# Same split as GLUE's download_glue_data.py: train rows whose (#1 ID, #2 ID) pair is in
# mrpc_dev_ids.tsv go to dev.tsv, the rest to train.tsv; both keep the original header (and its BOM).
LC_ALL=C awk -F'\t' -v OFS='\t' -v train="$target/mrpc/train.tsv" -v dev="$target/mrpc/dev.tsv" '
  { sub(/[ \t\r]+$/, "") }
  FNR == NR { devids[$1 SUBSEP $2] = 1; next }
  FNR == 1  { print > train; print > dev; next }
  { if (($2 SUBSEP $3) in devids) print > dev; else print > train }
' "$tmp/mrpc_dev_ids.tsv" "$tmp/msr_train.txt"

echo "==> UCI Sentiment Labelled Sentences -> $target/sentiment_labelled_sentences"
fetch "https://archive.ics.uci.edu/static/public/331/sentiment+labelled+sentences.zip" "$tmp/uci.zip"
unzip -q -o "$tmp/uci.zip" -d "$tmp/uci"
mkdir -p "$target/sentiment_labelled_sentences"
for name in amazon_cells imdb yelp; do
  src="$(find "$tmp/uci" -name "${name}_labelled.txt" -not -path '*__MACOSX*' | head -n 1)"
  if [[ -z "$src" ]]; then echo "error: ${name}_labelled.txt not found in the UCI zip" >&2; exit 1; fi
  to_lf "$src" "$target/sentiment_labelled_sentences/${name}_labelled.txt"
done

echo "==> TREC question classification (Li & Roth) -> $target/trec"
QC=https://cogcomp.seas.upenn.edu/Data/QA/QC
mkdir -p "$target/trec"
for pair in "train_5500.label:train.tsv" "TREC_10.label:test.tsv"; do
  src="${pair%%:*}" dst="${pair##*:}"
  fetch "$QC/$src" "$tmp/$src"
  # Latin-1 -> UTF-8; "COARSE:fine question words ?" -> coarse_label<TAB>fine_label<TAB>question
  iconv -f ISO-8859-1 -t UTF-8 "$tmp/$src" | awk -v OFS='\t' '
    BEGIN { print "coarse_label", "fine_label", "question" }
    { sub(/\r$/, ""); if ($0 == "") next
      sp = index($0, " "); label = substr($0, 1, sp - 1); c = index(label, ":")
      print substr(label, 1, c - 1), substr(label, c + 1), substr($0, sp + 1) }
  ' > "$target/trec/$dst"
done

echo "==> AG News: not downloaded."
echo "    Its csv release (Zhang et al. 2015, ag_news_csv) is for research / non-commercial use and is shared by"
echo "    the authors via Google Drive. Get ag_news_csv yourself and copy test.csv to $target/ag_news/test.csv."

echo
echo "Done. Files written:"
(cd "$target" && find . -type f | sort | sed 's/^/  /')
echo
echo "Point the tests at them with:"
echo "  export MLNETBERT_DATA=$target"
