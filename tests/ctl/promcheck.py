#!/usr/bin/env python3
"""A strict checker of the Prometheus text exposition format 0.0.4, as
node_exporter's textfile collector reads it, for `quarantinectl metrics`.

    promcheck.py [--prefix PREFIX] [--json] FILE|-
    promcheck.py --self-test

Exits 0 when the text is valid, 1 with one line per problem otherwise.
--json prints the samples as JSON for the tests to compare with
`quarantinectl --json status`: {"name": value, "name{k=v,...}": value},
labels sorted by name, values unescaped and unquoted.

What is checked, beyond what the format requires of any exposition, is
marked "ours" (our conventions, which a scraper would accept without):

- every line ends with LF, the last one too; no `# EOF` (OpenMetrics only);
- `# HELP NAME TEXT` at most once per family, TEXT escaped (only \\\\ and
  \\n); `# TYPE NAME TYPE` at most once, before the family's first sample,
  TYPE one of counter, gauge, histogram, summary, untyped (not info,
  stateset, gaugehistogram, unknown: OpenMetrics only);
- a family's lines are contiguous: no name comes back after another
  family's;
- names match [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]*
  and not __reserved, no label twice, values quoted with only \\\\, \\" and
  \\n escaped; a value is a float (NaN, +Inf, -Inf); no timestamps (the
  textfile collector refuses them); no series twice;
- a counter's value is >= 0;
- a histogram's samples are NAME_bucket (with le), NAME_sum and NAME_count;
  per label set, le values strictly increasing, counts cumulative
  (non-decreasing), the last le="+Inf" and equal to NAME_count;
- ours: every sample has a TYPE and a HELP; names start with PREFIX; a
  counter's name ends in _total; no untyped or summary families.
"""
import json
import math
import re
import sys

NAME = re.compile(r'[a-zA-Z_:][a-zA-Z0-9_:]*\Z')
LABEL = re.compile(r'[a-zA-Z_][a-zA-Z0-9_]*\Z')
TYPES = {'counter', 'gauge', 'histogram', 'summary', 'untyped'}
OPENMETRICS_TYPES = {'info', 'stateset', 'gaugehistogram', 'unknown'}


def parse_float(s):
    """Go's strconv.ParseFloat as the format uses it; ValueError otherwise."""
    if s in ('+Inf', 'Inf', '+inf', 'inf'):
        return math.inf
    if s in ('-Inf', '-inf'):
        return -math.inf
    if s in ('NaN', 'nan'):
        return math.nan
    if not re.fullmatch(r'[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?', s):
        raise ValueError(s)
    return float(s)


def unescape(s, quote):
    """Unescapes a HELP text (quote False) or a label value; ValueError on
    an escape the format does not have."""
    out, i = [], 0
    while i < len(s):
        c = s[i]
        if c == '\\':
            if i + 1 >= len(s):
                raise ValueError('a lone backslash at the end')
            n = s[i + 1]
            if n == '\\':
                out.append('\\')
            elif n == 'n':
                out.append('\n')
            elif n == '"' and quote:
                out.append('"')
            else:
                raise ValueError('invalid escape \\%s' % n)
            i += 2
            continue
        if quote and c == '"':
            raise ValueError('an unescaped double quote')
        out.append(c)
        i += 1
    return ''.join(out)


def parse_labels(s, pos):
    """Parses {a="b",...} of s starting at pos (the '{'); returns (labels as
    a list of pairs, the position after '}')."""
    labels = []
    i = pos + 1
    while True:
        if i < len(s) and s[i] == '}':
            return labels, i + 1
        m = re.compile(r'[a-zA-Z_][a-zA-Z0-9_]*').match(s, i)
        if not m:
            raise ValueError('a label name expected at column %d' % (i + 1))
        name = m.group(0)
        if name.startswith('__'):
            raise ValueError('label name %s is reserved' % name)
        if any(k == name for k, _ in labels):
            raise ValueError('label %s twice' % name)
        i = m.end()
        if s[i:i + 2] != '="':
            raise ValueError('=" expected after label %s' % name)
        i += 2
        j = i
        while j < len(s) and s[j] != '"':
            j += 2 if s[j] == '\\' else 1
        if j >= len(s):
            raise ValueError('label %s: unterminated value' % name)
        labels.append((name, unescape(s[i:j], True)))
        i = j + 1
        if i < len(s) and s[i] == ',':
            i += 1
            continue
        if i < len(s) and s[i] == '}':
            return labels, i + 1
        raise ValueError(', or } expected after label %s' % name)


class Family:
    def __init__(self, name):
        self.name = name
        self.help = None
        self.type = None
        self.samples = []  # (sample name, labels, value)


def family_of(sample, families, current):
    """The family a sample name belongs to: the current family when it is
    the name, or NAME_bucket/_sum/_count of a histogram (or _sum/_count of
    a summary); else the name itself."""
    if current is not None:
        f = families[current]
        if sample == current:
            return current
        if f.type == 'histogram' and sample in (current + '_bucket', current + '_sum',
                                                current + '_count'):
            return current
        if f.type == 'summary' and sample in (current + '_sum', current + '_count'):
            return current
    return sample


def check(text, prefix=None):
    """Returns (problems, samples): a list of strings, and a dict
    "name{k=v,...}" -> value."""
    problems = []
    families = {}
    order = []  # family names in the order their lines came
    current = None
    series = {}

    def bad(n, msg):
        problems.append('line %d: %s' % (n, msg))

    if text and not text.endswith('\n'):
        problems.append('the last line does not end with LF')
    lines = text.split('\n')
    if lines and lines[-1] == '':
        lines.pop()

    def enter(name, n):
        nonlocal current
        if name != current:
            if name in families:
                bad(n, 'family %s comes back after another family' % name)
            else:
                families[name] = Family(name)
                order.append(name)
            current = name
        return families[name]

    for n, line in enumerate(lines, 1):
        if line == '':
            continue
        if line.startswith('#'):
            parts = line.split(None, 3)
            if line.strip() == '# EOF':
                bad(n, '# EOF is OpenMetrics, not 0.0.4')
                continue
            if len(parts) >= 2 and parts[1] in ('HELP', 'TYPE'):
                if len(parts) < 3 or not NAME.match(parts[2]):
                    bad(n, '%s without a valid metric name' % parts[1])
                    continue
                name = parts[2]
                f = enter(name, n)
                if parts[1] == 'HELP':
                    if f.help is not None:
                        bad(n, 'a second HELP for %s' % name)
                    # The text is what follows "# HELP NAME ".
                    rest = line.split(' ', 3)[3] if line.count(' ') >= 3 else ''
                    try:
                        f.help = unescape(rest, False)
                    except ValueError as e:
                        bad(n, 'HELP of %s: %s' % (name, e))
                        f.help = rest
                else:
                    t = parts[3].strip() if len(parts) > 3 else ''
                    if f.type is not None:
                        bad(n, 'a second TYPE for %s' % name)
                    if f.samples:
                        bad(n, 'TYPE of %s after its samples' % name)
                    if t in OPENMETRICS_TYPES:
                        bad(n, 'type %s is OpenMetrics, not 0.0.4' % t)
                    elif t not in TYPES:
                        bad(n, 'unknown type %r' % t)
                    f.type = t
            continue
        m = re.compile(r'[a-zA-Z_:][a-zA-Z0-9_:]*').match(line)
        if not m:
            bad(n, 'a metric name expected')
            continue
        sname = m.group(0)
        i = m.end()
        labels = []
        try:
            if i < len(line) and line[i] == '{':
                labels, i = parse_labels(line, i)
        except ValueError as e:
            bad(n, '%s: %s' % (sname, e))
            continue
        rest = line[i:]
        if not rest.startswith(' '):
            bad(n, '%s: a space and a value expected' % sname)
            continue
        fields = rest.split()
        if len(fields) == 2:
            bad(n, '%s: a timestamp (the textfile collector refuses them)' % sname)
        elif len(fields) != 1:
            bad(n, '%s: one value expected' % sname)
            continue
        try:
            value = parse_float(fields[0])
        except ValueError:
            bad(n, '%s: invalid value %r' % (sname, fields[0]))
            continue
        fname = family_of(sname, families, current)
        f = enter(fname, n)
        key = sname
        if labels:
            key += '{' + ','.join('%s=%s' % kv for kv in sorted(labels)) + '}'
        if key in series:
            bad(n, 'series %s twice' % key)
        series[key] = value
        f.samples.append((sname, labels, value, n))

    for name in order:
        f = families[name]
        first = f.samples[0][3] if f.samples else 0
        if f.samples and f.type is None:
            bad(first, 'samples of %s without a TYPE' % name)
        if f.samples and f.help is None:
            bad(first, 'samples of %s without a HELP (ours)' % name)
        if prefix and not name.startswith(prefix):
            bad(first, '%s does not start with %s (ours)' % (name, prefix))
        if f.type in ('untyped', 'summary'):
            bad(first, '%s is %s (ours: counters, gauges, histograms)' % (name, f.type))
        if f.type == 'counter':
            if not name.endswith('_total'):
                bad(first, 'counter %s does not end in _total (ours)' % name)
            for s, _, v, ln in f.samples:
                if not v >= 0:
                    bad(ln, 'counter %s is %r' % (s, v))
        if f.type in ('counter', 'gauge'):
            for s, _, _, ln in f.samples:
                if s != name:
                    bad(ln, 'sample %s in family %s' % (s, name))
        if f.type == 'histogram':
            check_histogram(f, bad)
    return problems, series


def check_histogram(f, bad):
    groups = {}
    for s, labels, v, ln in f.samples:
        if s == f.name:
            bad(ln, 'histogram %s has a bare sample' % f.name)
            continue
        le = [val for k, val in labels if k == 'le']
        others = tuple(sorted((k, val) for k, val in labels if k != 'le'))
        g = groups.setdefault(others, {'buckets': [], 'sum': None, 'count': None, 'line': ln})
        if s.endswith('_bucket'):
            if not le:
                bad(ln, '%s without le' % s)
                continue
            try:
                bound = parse_float(le[0])
            except ValueError:
                bad(ln, '%s: le %r is not a number' % (s, le[0]))
                continue
            g['buckets'].append((bound, le[0], v, ln))
        else:
            if le:
                bad(ln, '%s has an le label' % s)
            g['sum' if s.endswith('_sum') else 'count'] = v
    for others, g in groups.items():
        ln = g['line']
        if g['count'] is None or g['sum'] is None:
            bad(ln, 'histogram %s%s lacks _sum or _count' % (f.name, dict(others)))
        b = g['buckets']
        if not b or b[-1][1] != '+Inf':
            bad(ln, 'histogram %s%s does not end with le="+Inf"' % (f.name, dict(others)))
        for (b0, _, c0, _), (b1, t1, c1, l1) in zip(b, b[1:]):
            if not b1 > b0:
                bad(l1, '%s: le="%s" does not increase' % (f.name, t1))
            if c1 < c0:
                bad(l1, '%s: bucket le="%s" is not cumulative (%r < %r)' % (f.name, t1, c1, c0))
        if b and g['count'] is not None and b[-1][2] != g['count']:
            bad(b[-1][3], '%s: le="+Inf" %r is not _count %r' % (f.name, b[-1][2], g['count']))


GOOD = '''# HELP q_up_seconds Time since start.
# TYPE q_up_seconds gauge
q_up_seconds 12.500000
# HELP q_detections_total Detections, by rule (a \\\\ and a line\\nbreak).
# TYPE q_detections_total counter
q_detections_total{rule="smb-propagation"} 3
q_detections_total{rule="odd \\"name\\" \\\\ and\\nmore"} 0
# HELP q_commit_seconds Commit time.
# TYPE q_commit_seconds histogram
q_commit_seconds_bucket{le="5e-05"} 0
q_commit_seconds_bucket{le="0.001"} 2
q_commit_seconds_bucket{le="1"} 3
q_commit_seconds_bucket{le="+Inf"} 4
q_commit_seconds_sum 2.000300
q_commit_seconds_count 4
'''

BAD = {
    'no final LF': GOOD.rstrip('\n'),
    '# EOF': GOOD + '# EOF\n',
    'second HELP': GOOD.replace('# TYPE q_up_seconds gauge',
                                '# HELP q_up_seconds again\n# TYPE q_up_seconds gauge'),
    'second TYPE': GOOD.replace('q_up_seconds 12', '# TYPE q_up_seconds gauge\nq_up_seconds 12'),
    'TYPE after samples': GOOD.replace('# TYPE q_up_seconds gauge\nq_up_seconds 12.500000\n',
                                       'q_up_seconds 12.500000\n# TYPE q_up_seconds gauge\n'),
    'info type': GOOD.replace('q_up_seconds gauge', 'q_up_seconds info'),
    'stateset type': GOOD.replace('q_up_seconds gauge', 'q_up_seconds stateset'),
    'family back': GOOD + 'q_up_seconds 1\n',
    'no TYPE': GOOD + '# HELP q_x_total x\nq_x_total 1\n',
    'no HELP': GOOD + '# TYPE q_x_total counter\nq_x_total 1\n',
    'bad name': GOOD + '# HELP 1q x\n# TYPE 1q gauge\n1q 1\n',
    'bad label name': GOOD.replace('{rule="smb', '{1rule="smb'),
    'reserved label': GOOD.replace('{rule="smb', '{__rule="smb'),
    'label twice': GOOD.replace('{rule="smb-propagation"}', '{rule="a",rule="b"}'),
    'unescaped quote': GOOD.replace('\\"name\\"', '"name"'),
    'bad escape': GOOD.replace('\\\\ and\\nmore', '\\t'),
    'bad HELP escape': GOOD.replace('Time since start.', 'Time \\t since.'),
    'unterminated': GOOD.replace('{rule="smb-propagation"}', '{rule="smb-propagation}'),
    'bad value': GOOD.replace('q_up_seconds 12.500000', 'q_up_seconds 12,5'),
    'timestamp': GOOD.replace('q_up_seconds 12.500000', 'q_up_seconds 12.5 1700000000000'),
    'series twice': GOOD.replace('q_detections_total{rule="smb-propagation"} 3\n',
                                 'q_detections_total{rule="smb-propagation"} 3\n'
                                 'q_detections_total{rule="smb-propagation"} 4\n'),
    'negative counter': GOOD.replace('propagation"} 3', 'propagation"} -3'),
    'counter without _total': GOOD.replace('q_detections_total', 'q_detections'),
    'untyped': GOOD.replace('q_up_seconds gauge', 'q_up_seconds untyped'),
    'no +Inf': GOOD.replace('q_commit_seconds_bucket{le="+Inf"} 4\n', ''),
    'not cumulative': GOOD.replace('le="1"} 3', 'le="1"} 1'),
    'le not increasing': GOOD.replace('le="1"}', 'le="0.0001"}'),
    '+Inf not count': GOOD.replace('q_commit_seconds_count 4', 'q_commit_seconds_count 5'),
    'no _sum': GOOD.replace('q_commit_seconds_sum 2.000300\n', ''),
    'bucket without le': GOOD.replace('{le="0.001"}', ''),
    'bare histogram sample': GOOD + 'q_commit_seconds 1\n',
    'prefix': GOOD.replace('q_up_seconds', 'x_up_seconds'),
}


def self_test():
    fails = 0
    problems, series = check(GOOD, prefix='q_')
    if problems:
        print('FAIL: the good text is refused: %s' % problems)
        fails += 1
    want = 'odd "name" \\ and\nmore'
    if series.get('q_detections_total{rule=%s}' % want) != 0:
        print('FAIL: the escaped label value is not read back: %s' % list(series))
        fails += 1
    for what, text in BAD.items():
        problems, _ = check(text, prefix='q_')
        if not problems:
            print('FAIL: %s is accepted' % what)
            fails += 1
        else:
            print('ok:   %s refused (%s)' % (what, problems[0]))
    return 1 if fails else 0


def main():
    args = sys.argv[1:]
    if args == ['--self-test']:
        return self_test()
    prefix, as_json = None, False
    while args and args[0].startswith('--'):
        if args[0] == '--prefix' and len(args) > 1:
            prefix = args[1]
            args = args[2:]
        elif args[0] == '--json':
            as_json = True
            args = args[1:]
        else:
            break
    if len(args) != 1:
        print(__doc__.split('\n\n')[1], file=sys.stderr)
        return 2
    text = sys.stdin.read() if args[0] == '-' else open(args[0], encoding='utf-8').read()
    problems, series = check(text, prefix)
    for p in problems:
        print(p, file=sys.stderr)
    if as_json:
        print(json.dumps(series))
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
