"""The tokenizer corpus: referring expressions plus every text-cleaning quirk HiVG's tokenizer path has.

Imported by generate_tokens.py; kept apart so the list reads as data. Escapes are explicit so the file
stays ASCII and every code point is visible in review.
"""
import random
import unicodedata

REFCOCO = [
    "man in red shirt on left", "woman on right", "left guy", "the guy in the middle", "bottom left corner",
    "person wearing a blue jacket", "giraffe on the far right", "tallest giraffe", "white car behind the bus",
    "second from left", "kid holding an umbrella", "half of the pizza closest to you", "elephant in back",
    "the chair nearest the window", "blurry person", "man with glasses and beard", "lady in black dress",
    "zebra facing camera", "the one on top", "bowl of broccoli", "red and white striped shirt",
    "player #23", "guy in white t-shirt", "sheep on the left, partially cut off", "plate with 3 donuts",
    "man's arm", "woman's hand holding phone", "it's the dog", "they're on the left", "we've got it",
    "i'm right here", "you'll see it", "he'd sit there", "don't pick the cat", "TOP RIGHT",
    "Horse On Left", "the 2nd bear from right", "1st", "3rd from the bottom", "bananas: 12 of them",
    "cat (orange)", "person [left]", "sign that says \"stop\"", "train car #4", "50% cut off",
    "u.s. flag", "e-mail", "co-worker on the right side", "motorbike/bicycle", "the @ sign",
    "a very very very long description of a man who is standing next to a table with many things on it",
    "guy w/ hat", "front-most cow", "cup on left... the empty one", "what?!", "left!!!", "right ???",
    "the man who is looking at the camera and smiling", "broccoli", "sandwich", "donut with sprinkles",
    "number 7", "vase 2", "2", "42", "3.14", "1,000 people", "10x zoom", "x2", "4k tv",
    "mcdonald's sign", "o'brien", "rock 'n' roll", "the 'best' one", "'s", "'t", "'re", "'ve", "'m", "'ll", "'d",
    "'S", "'LL", "it'S", "won't", "y'all",
]

SCRIPTS = [
    "caf\u00e9 au lait", "na\u00efve r\u00e9sum\u00e9", "\u00fcber stra\u00dfe", "se\u00f1or on the left",
    "\u00c0 GAUCHE", "\u00c9L\u00c8VE", "ISTANBUL \u0130STANBUL", "D\u0130YARBAKIR", "\u0131\u015f\u0131k",
    "\u039f\u0394\u039f\u03a3", "\u0391\u03a3 \u03a3\u0391", "\u03a3", "A\u03a3", "A\u03a3'", "A\u03a3\u0301", "\u03a3\u03a3\u03a3",
    "\u03b3\u03c5\u03bd\u03b1\u03af\u03ba\u03b1 \u03b1\u03c1\u03b9\u03c3\u03c4\u03b5\u03c1\u03ac",
    "\u041c\u0423\u0416\u0427\u0418\u041d\u0410 \u0421\u041b\u0415\u0412\u0410", "\u0436\u0435\u043d\u0449\u0438\u043d\u0430 \u0441\u043f\u0440\u0430\u0432\u0430",
    "\u0627\u0644\u0631\u062c\u0644 \u0639\u0644\u0649 \u0627\u0644\u064a\u0633\u0627\u0631", "\u0627\u0644\u0639\u062f\u062f \u0661\u0662\u0663",
    "\u0906\u0926\u092e\u0940 \u092c\u093e\u090f\u0901", "\u0915\u094d\u0937 \u0924\u094d\u0930", "\u0e1c\u0e39\u0e49\u0e0a\u0e32\u0e22\u0e17\u0e32\u0e07\u0e0b\u0e49\u0e32\u0e22",
    "\u5de6\u8fb9\u7684\u7537\u4eba", "\u53f3\u5074\u306e\u5973\u6027", "\u30ab\u30bf\u30ab\u30ca", "\u110b\u1165\u11ab \u1109\u1161\u1105\u1161\u11b7",
    "\uc67c\ucabd \ub0a8\uc790", "\u05d0\u05d9\u05e9 \u05de\u05e9\u05de\u05d0\u05dc", "\u10d9\u10d0\u10ea\u10d8", "\u0540\u0531\u0545",
    "\u13a0\u13a1\u13a2", "\u2160\u2161\u2162 roman", "\u00bd half", "x\u00b2 + y\u00b3", "\u2460\u2461\u2462", "\u0660\u06f1\u07c0",
    "\U0001d400\U0001d401 bold math", "\u1e9e capital sharp s", "\u1f88 \u1fbc", "\u0149", "\u01c5 titlecase",
    "\u212a kelvin \u2126 ohm \u212b angstrom", "\u017f long s", "'\u017f", "<|\u017ftartoftext|>",
    "\u0345 ypogegrammeni a\u0345b", "\u03b1\u0345", "\u0130\u0307", "i\u0307",
]

EMOJI = [
    "\U0001f600 smiling", "dog \U0001f415 on left", "\U0001f468\u200d\U0001f469\u200d\U0001f467 family",
    "\U0001f1fa\U0001f1f8 flag", "\U0001f44d\U0001f3fd", "\u2764\ufe0f red heart", "\U0001f3f4\U000e0067\U000e0062\U000e0077\U000e006c\U000e0073\U000e007f wales",
    "keycap 1\ufe0f\u20e3", "\u2603 snowman", "\u00a9 \u00ae \u2122",
]

QUOTES = [
    "\u2018left\u2019 one", "it\u2019s the man", "\u201cred\u201d car", "\u201ebottom\u201f", "\u201aa\u201b",
    "\u02bcokina", "don\u2019t", "they\u2019re", "\u00abguillemets\u00bb", "\u2039single\u203a", "\u300ccjk\u300d",
    "\uff02fullwidth quote\uff02", "\u2032prime\u2033", "it\u2018s", "\u2018s",
]

ENTITIES = [
    "&amp;", "&amp", "fish &amp; chips", "fish &amp chips", "&lt;left&gt;", "&lt;b&gt;bold&lt;/b&gt;",
    "caf&eacute;", "caf&eacute", "&Eacute;cole", "&EACUTE;COLE", "&ntilde; &Ntilde; &NTILDE; &nTILDE;",
    "&quot;quoted&quot;", "&apos;s", "it&#39;s", "it&#x27;s", "&#8217;", "&#x2019;s",
    "&#128;", "&#x80;", "&#130; &#131; &#132; &#133; &#134; &#145; &#146; &#147; &#148; &#150; &#151; &#153;",
    "&#129; &#141; &#143; &#144; &#157;", "&#0;", "&#13;", "&#x0d;", "&#1;", "&#11;", "&#31;", "&#127;",
    "&#xd800;", "&#xDFFF;", "&#1114111;", "&#1114112;", "&#x110000;", "&#99999999999999999999;",
    "&#xfffe;", "&#xFFFF;", "&#x1FFFE;", "&#xfdd0;", "&#65;&#66;&#67;", "&#x41;", "&#X41;",
    "&#65", "&#65abc", "&#12abc;", "&#abc;", "&#x;", "&#;", "&#", "&", "& ", "a & b", "&&amp;",
    "&amp;amp;", "&amp;amp;amp;", "&amp;lt;", "&amp;#65;", "&amp;#x41;", "&amp;eacute;",
    "&notit;", "&notin;", "&noti", "&not", "this&not that", "&copy2024", "&copy;2024", "&COPY;", "&COPY",
    "&hellip;", "&mdash; &ndash;", "&nbsp;x&nbsp;", "&NBSP;", "&ensp;&emsp;&thinsp;", "&Tab;tab", "&NewLine;nl",
    "&zwj;&zwnj;", "&nvlt;", "&bne;", "&Jscr;ohn &HilbertSpace;ancock", "&checkmark;", "&fjlig;",
    "&SZLIG;", "&szlig;", "&aacute", "&Aacute", "&AElig", "&aelig;", "&AELIG;", "&sup3;&SUP3;",
    "&thetasym;", "&ThickSpace;", "&ampx;", "&ampersand;", "&unknownentity;", "&x;", "&a;",
    "&abcdefghijklmnopqrstuvwxyzabcdefghijklmnop;", "&amp;abcdefghijklmnopqrstuvwxyz123;",
    "<b>&amp;</b>", "a<b &amp; c", "&amp;\n<\n&amp;", "&amp;\n&amp;", "x\n&amp;<", "&lt;&amp;",
    "&\u212acy;", "&&#8490;cy;", "&#x26;amp;", "&#38;#38;", "&amp;&#35;65;",
]

WIDTH = [
    "\uff2c\uff2f\uff35\uff24\u3000\uff2e\uff2f\uff29\uff33\uff25\uff33", "\uff4d\uff41\uff4e \uff4f\uff4e \uff4c\uff45\uff46\uff54",
    "\uff11\uff12\uff13", "\uff35\uff80\uff70\uff9d", "\uffa1\uffa4\uffa7", "\uffe0\uffe1\uffe2\uffe3\uffe4\uffe5\uffe6",
    "\uffe8\uffe9\uffea\uffeb\uffec\uffed\uffee", "\u3000\u3000lead", "a\u3000b",
    "".join(chr(c) for c in range(0xFF01, 0xFF40)), "".join(chr(c) for c in range(0xFF40, 0xFF80)),
    "".join(chr(c) for c in range(0xFF80, 0xFFC0)), "".join(chr(c) for c in range(0xFFC0, 0xFFF0)),
]

LIGATURES = [
    "\ufb01sh \ufb02ower", "\ufb00 \ufb03 \ufb04 \ufb05 \ufb06", "\u0132SSEL \u0133s", "\u01c4 \u01c5 \u01c6",
    "\u01c7 \u01c8 \u01c9 \u01ca \u01cb \u01cc", "\u01f1 \u01f2 \u01f3", "\u0149", "e\ufb00ect", "\u00e6 \u0153 kept",
]

CONTROLS = [
    "bell\x07here", "a\x00b", "null\x00", "\x01\x02\x03\x04\x05\x06\x08x", "tab\there", "tabs\t\t\tmany",
    "new\nline", "lines\n\n\nmany", "cr\rlf", "crlf\r\nend", "ff\x0cx", "vt\x0bx", "\x0e\x0f\x1a\x1b\x1c\x1d\x1e\x1f",
    "del\x7fx", "\x1b[31mred\x1b[0m text", "\x1b[1;32mbold green\x1b[m", "\x1b[\u0661\u0662mx", "\x1b[;;Hhome", "\x1b[99", "\x1b]0;title\x07",
    "\u2028line sep", "para\u2029sep", "\x85next line", "a\x85b", "\x80 \x82 \x83 \x84 \x86", "\x91quoted\x92", "\x93dq\x94",
    "\x81\x8d\x8f\x90\x9d kept c1", "\x96\x97\x98\x99\x9a\x9b\x9c\x9e\x9f", "\x8a\x8b\x8c\x8e",
    "\u206a\u206b\u206c\u206d\u206e\u206fx", "\ufeffbom", "x\ufeff", "\ufff9\ufffa\ufffb\ufffc obj", "\ufffd replacement",
    "zero\u200bwidth", "\u200c\u200d\u200e\u200f", "\u202a\u202b\u202c\u202d\u202e", "\U0001d173\U0001d17a music",
    "soft\u00adhyphen", "nbsp\u00a0here", "thin\u2009space", "ideo\u3000space", "ogham\u1680space", "nnbsp\u202fx",
    "mmsp\u205fx", "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a", "\u180emongolian",
    "\x1c\x1d\x1e\x1f separators", "  leading", "trailing   ", "   both   ", "runs    of     spaces",
    "\t\n mixed \r\n\t whitespace \x0b\x0c", " ", "   ", "\t", "\n", "", "\x07", "\x00",
]

NORMALIZATION = [
    "cafe\u0301", "Cafe\u0301", "e\u0301cole", "na\u0131\u0308ve", "o\u0308\u0301", "a\u0323\u0302", "a\u0302\u0323",
    "\u1e0b\u0323", "\u0071\u0307\u0323", "\u212b", "\u2126", "\u1100\u1161\u11a8", "\uac00\u11a8", "\u0958", "\u2adc",
    "\u0041\u030a", "\u00c5", "\u0344", "\u0f73", "\U0001d15e", "\u2000", "\u0340\u0341",
    "\u0ccb", "\u0cc6\u0cc2\u0cd5", "a\u20e1\u0f75", "\uc9f8\u11b8", "\u1100\u1161\u11a8\u11a8",
]

LONG = [
    " ".join(["word"] * 100), "a" * 300, "supercalifragilisticexpialidocious " * 8, "\u5de6" * 100,
    " ".join(str(i) for i in range(100)), "a, " * 80, "\U0001f600" * 30, "the man on the left " * 10,
    " ".join(["x"] * 75), " ".join(["x"] * 76), " ".join(["x"] * 74),
]

SPECIAL = [
    "<|startoftext|>", "<|endoftext|>", "<|STARTOFTEXT|>", "a<|endoftext|>b", "<|startoftext|><|endoftext|>",
    "<|endoftext", "<|", "|>", "<<>>", "<3", "a<b", "1<2 & 3>2", "&lt;|endoftext|&gt;",
]

MOJIBAKE = [
    "caf\u00c3\u00a9", "CAF\u00c3\u0089", "\u00e2\u20ac\u0153quoted\u00e2\u20ac\u009d", "l\u00e2\u20ac\u2122homme",
    "voil\u00c3\u00a0 le travail", "\u00c3\u00b1and\u00c3\u00ba", "\u00e6\u0097\u00a5\u00e6\u009c\u00ac",
    "se\u00c3\u00b1or on the right", "\u00c3\u00a9l\u00c3\u00a8ve",
]

# Pieces for the seeded random lines: each quirk in company with others.
PIECES = [
    "man", "Left", "RED", " ", "  ", "\t", "\n", "\r\n", "'s", "\u2019", "\u201c", "&amp;", "&lt;", "<", "&#128;", "&eacute",
    "\u00e9", "e\u0301", "\uff21", "\uff41", "\u3000", "\ufb01", "\u0130", "\u03a3", "\u0345", "\U0001f600", "\u5de6",
    "\u0627", "\u0915\u094d", "\u0e01", "\x07", "\x85", "\x92", "\x1b[1m", "\ufeff", "\u00a0", "1", "23", "\u0661",
    "!", "...", "-", "#", "\u00bd", "\u017f", "'", "\u2028", "&#x41;", "&amp;amp;", "\u0149", "\u01c6",
]


def nfc_strings(count=400):
    """Seeded random strings of decomposable characters, combining marks and Hangul jamo."""
    rng = random.Random(14)
    pool = [chr(cp) for cp in range(0x20, 0x30000) if not 0xD800 <= cp <= 0xDFFF
            and unicodedata.category(chr(cp)) != "Cn"
            and (unicodedata.decomposition(chr(cp)) or unicodedata.combining(chr(cp)) or 0x1100 <= cp <= 0x11FF
                 or (0xAC00 <= cp <= 0xD7A3 and cp % 7 == 0) or cp < 0x80)]
    return ["".join(rng.choice(pool) for _ in range(rng.randint(1, 6))) for _ in range(count)]


def corpus():
    """All lines, in a fixed order (random lines from a fixed seed)."""
    rng = random.Random(15)
    lines = REFCOCO + SCRIPTS + EMOJI + QUOTES + ENTITIES + WIDTH + LIGATURES + CONTROLS + NORMALIZATION + LONG + SPECIAL
    lines += [unicodedata.normalize("NFD", s) for s in SCRIPTS[:12]]
    lines += ["".join(rng.choice(PIECES) for _ in range(rng.randint(1, 12))) for _ in range(150)]
    return lines, MOJIBAKE
