"""A small byte-level BPE vocabulary that follows CLIP's tokenizer rules (docs/algorithms.md §2.1), learned
from a corpus, and a tokenizer that reads it back from the Hugging Face files vocab.json + merges.txt.

Vocabulary layout (the same as CLIP's, only with fewer merges):
    ids 0..255       the 256 byte characters, in the byte-to-unicode order of §2.1
                     (bytes 33..126, 161..172, 174..255, then the other 68 bytes mapped to U+0100...)
    ids 256..511     the same characters with "</w>" appended (end of a word)
    ids 512..        one token per learned merge, in merge order (= merge rank)
    last two ids     <|startoftext|>, <|endoftext|>  (EOT is the largest id: text pooling is argmax)

merges.txt is a "#version: 0.2" header line followed by one "first second" pair per line, in rank
order; vocab.json maps token string -> id. Text cleanup is what §2.1 gives for text without ftfy:
HTML-unescape twice, collapse whitespace, strip, lowercase. Input must be printable ASCII, where
ftfy is the identity and the pre-tokenizer regex reduces to the ASCII classes used here.

    from world_tokenizer import learn_bpe, Tokenizer
    merges = learn_bpe(texts, max_merges=1500)
    write_vocab(folder, merges)                      # vocab.json + merges.txt
    tok = Tokenizer.load(folder)
    ids = tok.tokenize(["a clean origami boat."], context_length=32)   # [1, 32] int64, zero-padded
"""

from __future__ import annotations

import html
import json
import os
import re
from collections import Counter
from typing import Dict, Iterable, List, Sequence, Tuple

SOT = "<|startoftext|>"
EOT = "<|endoftext|>"
END_OF_WORD = "</w>"
MERGES_HEADER = "#version: 0.2"

# Pre-tokens: the special tokens, English contractions, runs of letters, single digits, runs of other
# non-space characters. This is CLIP's pattern with \p{L} -> [a-z] and \p{N} -> [0-9], exact for ASCII.
_PRETOKEN = re.compile(r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[a-z]+|[0-9]|[^\sa-z0-9]+", re.IGNORECASE)
_WHITESPACE = re.compile(r"\s+")


def byte_characters() -> List[str]:
    """The 256 byte characters in vocabulary order; entry b of byte_to_char() is the char for byte b."""
    kept = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    others = [b for b in range(256) if b not in set(kept)]
    table = {b: chr(b) for b in kept}
    table.update({b: chr(256 + n) for n, b in enumerate(others)})
    return [table[b] for b in kept + others]


def byte_to_char() -> Dict[int, str]:
    kept = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    others = [b for b in range(256) if b not in set(kept)]
    return dict(zip(kept + others, byte_characters()))


_BYTE_TO_CHAR = byte_to_char()


def clean(text: str) -> str:
    """§2.1 cleanup for printable ASCII: unescape HTML twice, collapse whitespace, strip, lowercase."""
    text = html.unescape(html.unescape(text))
    if any(not (32 <= ord(ch) < 127 or ch in "\t\n\r") for ch in text):
        raise ValueError(f"only printable ASCII text is supported by this tokenizer: {text!r}")
    return _WHITESPACE.sub(" ", text).strip().lower()


def pretokens(text: str) -> List[str]:
    return _PRETOKEN.findall(clean(text))


def word_symbols(pretoken: str) -> Tuple[str, ...]:
    """UTF-8 bytes -> byte characters, the last one carrying the end-of-word mark."""
    chars = [_BYTE_TO_CHAR[b] for b in pretoken.encode("utf-8")]
    return tuple(chars[:-1]) + (chars[-1] + END_OF_WORD,)


def _merge_word(word: Tuple[str, ...], pair: Tuple[str, str]) -> Tuple[str, ...]:
    """Replaces every non-overlapping occurrence of `pair`, scanning left to right."""
    out: List[str] = []
    i = 0
    while i < len(word):
        if i + 1 < len(word) and word[i] == pair[0] and word[i + 1] == pair[1]:
            out.append(pair[0] + pair[1])
            i += 2
        else:
            out.append(word[i])
            i += 1
    return tuple(out)


def learn_bpe(texts: Iterable[str], max_merges: int, min_count: int = 2) -> List[Tuple[str, str]]:
    """Learns merges greedily: at each step the most frequent adjacent pair over the corpus words
    (ties: the lexicographically smallest pair) is merged, until `max_merges` merges or until no pair
    occurs `min_count` times. Special tokens are not part of the corpus. A pair whose merged string
    is already a token (possible via a different split) is skipped so that every token string is
    unique, as vocab.json requires."""
    words: Counter = Counter()
    for text in texts:
        for p in pretokens(text):
            if p in (SOT, EOT):
                continue
            words[word_symbols(p)] += 1
    existing = set(byte_characters()) | {c + END_OF_WORD for c in byte_characters()}
    merges: List[Tuple[str, str]] = []
    banned: set = set()
    while len(merges) < max_merges:
        pairs: Counter = Counter()
        for word, n in words.items():
            for a, b in zip(word, word[1:]):
                pairs[(a, b)] += n
        candidates = [(-n, pair) for pair, n in pairs.items() if n >= min_count and pair not in banned]
        if not candidates:
            break
        _, best = min(candidates)
        if best[0] + best[1] in existing:
            banned.add(best)
            continue
        merges.append(best)
        existing.add(best[0] + best[1])
        words = Counter({_merge_word(w, best): n for w, n in words.items()})
    return merges


def vocabulary(merges: Sequence[Tuple[str, str]]) -> List[str]:
    chars = byte_characters()
    vocab = chars + [c + END_OF_WORD for c in chars] + [a + b for a, b in merges] + [SOT, EOT]
    if len(set(vocab)) != len(vocab):
        raise ValueError("duplicate token strings in the vocabulary")
    return vocab


def write_vocab(folder: str, merges: Sequence[Tuple[str, str]]) -> int:
    """Writes vocab.json and merges.txt (Hugging Face CLIPTokenizer files); returns the vocab size."""
    vocab = vocabulary(merges)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump({tok: i for i, tok in enumerate(vocab)}, f, ensure_ascii=False, indent=0)
        f.write("\n")
    with open(os.path.join(folder, "merges.txt"), "w", encoding="utf-8") as f:
        f.write(MERGES_HEADER + "\n")
        for a, b in merges:
            f.write(f"{a} {b}\n")
    return len(vocab)


class Tokenizer:
    """CLIP-rules tokenizer over a given vocab/merges (§2.1)."""

    def __init__(self, encoder: Dict[str, int], merges: Sequence[Tuple[str, str]]):
        self.encoder = dict(encoder)
        self.ranks = {pair: i for i, pair in enumerate(merges)}
        self.sot = self.encoder[SOT]
        self.eot = self.encoder[EOT]
        if self.eot != len(self.encoder) - 1:
            raise ValueError("<|endoftext|> must have the largest id (text pooling takes the argmax)")
        self._cache: Dict[str, List[int]] = {}

    @classmethod
    def load(cls, folder: str) -> "Tokenizer":
        with open(os.path.join(folder, "vocab.json"), encoding="utf-8") as f:
            encoder = json.load(f)
        with open(os.path.join(folder, "merges.txt"), encoding="utf-8") as f:
            lines = f.read().split("\n")
        if not lines or not lines[0].startswith("#version"):
            raise ValueError("merges.txt must start with a '#version' line")
        merges = [tuple(line.split(" ")) for line in lines[1:] if line]
        if any(len(m) != 2 for m in merges):
            raise ValueError("merges.txt: every line after the header must be 'first second'")
        return cls(encoder, merges)  # type: ignore[arg-type]

    def bpe(self, pretoken: str) -> List[str]:
        if pretoken in (SOT, EOT):
            return [pretoken]
        word = word_symbols(pretoken)
        while len(word) > 1:
            ranked = [(self.ranks[p], p) for p in zip(word, word[1:]) if p in self.ranks]
            if not ranked:
                break
            word = _merge_word(word, min(ranked)[1])
        return list(word)

    def encode(self, text: str) -> List[int]:
        """Token ids without SOT/EOT."""
        hit = self._cache.get(text)
        if hit is None:
            hit = [self.encoder[t] for p in pretokens(text) for t in self.bpe(p)]
            self._cache[text] = hit
        return list(hit)

    def tokenize(self, texts: Sequence[str], context_length: int):
        """[N, context_length] int64 tensor: SOT, ids, EOT, zero padding. Raises if a text is too long."""
        import torch

        out = torch.zeros(len(texts), context_length, dtype=torch.int64)
        for i, text in enumerate(texts):
            ids = [self.sot] + self.encode(text) + [self.eot]
            if len(ids) > context_length:
                raise ValueError(f"{len(ids)} tokens (with SOT/EOT) > context length {context_length}: {text!r}")
            out[i, : len(ids)] = torch.tensor(ids)
        return out
