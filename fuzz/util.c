/* Plumbing the fuzz targets share: a private temporary directory and whole
 * files in it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

static char tmpdir[PATH_MAX];

static void remove_tmpdir(void)
{
	fuzz_clear_dir(tmpdir);
	/* Subdirectories a target made (one level; targets make no deeper). */
	DIR *d = opendir(tmpdir);
	struct dirent *de;

	if (d) {
		while ((de = readdir(d))) {
			char sub[PATH_MAX + 256];

			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(sub, sizeof(sub), "%s/%s", tmpdir, de->d_name);
			fuzz_clear_dir(sub);
			rmdir(sub);
		}
		closedir(d);
	}
	rmdir(tmpdir);
}

const char *fuzz_tmpdir(void)
{
	const char *base;

	if (tmpdir[0])
		return tmpdir;
	base = getenv("TMPDIR");
	if (!base || !base[0])
		base = "/tmp";
	if ((size_t)snprintf(tmpdir, sizeof(tmpdir), "%s/qd-fuzz.XXXXXX", base) >= sizeof(tmpdir) ||
	    !mkdtemp(tmpdir)) {
		perror("fuzz: mkdtemp");
		abort();
	}
	atexit(remove_tmpdir);
	return tmpdir;
}

void fuzz_write_file(const char *dir, const char *name, const uint8_t *data, size_t size)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wbe");
	if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
		perror(path);
		abort();
	}
}

char *fuzz_read_file(const char *dir, const char *name, size_t *ret_len)
{
	char path[PATH_MAX];
	char *buf = NULL;
	size_t len = 0;
	FILE *f, *m;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "rbe");
	if (!f)
		return NULL;
	m = open_memstream(&buf, &len);
	if (m) {
		char chunk[4096];
		size_t n;

		while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
			fwrite(chunk, 1, n, m);
		fclose(m);
	}
	fclose(f);
	if (buf)
		*ret_len = len;
	return buf;
}

void fuzz_clear_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		struct stat sb;

		if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
		    !S_ISDIR(sb.st_mode))
			unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
}

/* ---- a JSON checker: recursive descent, no values kept ---- */

struct jp {
	const char *s, *end;
	int depth;
};

static void j_ws(struct jp *p)
{
	while (p->s < p->end && (*p->s == ' ' || *p->s == '\t' || *p->s == '\n' || *p->s == '\r'))
		p->s++;
}

static bool j_lit(struct jp *p, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(p->end - p->s) < n || memcmp(p->s, w, n) != 0)
		return false;
	p->s += n;
	return true;
}

static bool j_string(struct jp *p)
{
	if (p->s >= p->end || *p->s != '"')
		return false;
	for (p->s++; p->s < p->end; p->s++) {
		unsigned char ch = (unsigned char)*p->s;

		if (ch == '"') {
			p->s++;
			return true;
		}
		if (ch < 0x20)
			return false;
		if (ch != '\\')
			continue;
		if (++p->s >= p->end)
			return false;
		if (*p->s == 'u') {
			for (int i = 0; i < 4; i++)
				if (++p->s >= p->end || !strchr("0123456789abcdefABCDEF", *p->s))
					return false;
		} else if (!strchr("\"\\/bfnrt", *p->s)) {
			return false;
		}
	}
	return false;
}

static bool j_number(struct jp *p)
{
	const char *start;

	if (p->s < p->end && *p->s == '-')
		p->s++;
	start = p->s;
	while (p->s < p->end && *p->s >= '0' && *p->s <= '9')
		p->s++;
	if (p->s == start || (*start == '0' && p->s - start > 1))
		return false;
	if (p->s < p->end && *p->s == '.') {
		start = ++p->s;
		while (p->s < p->end && *p->s >= '0' && *p->s <= '9')
			p->s++;
		if (p->s == start)
			return false;
	}
	if (p->s < p->end && (*p->s == 'e' || *p->s == 'E')) {
		p->s++;
		if (p->s < p->end && (*p->s == '+' || *p->s == '-'))
			p->s++;
		start = p->s;
		while (p->s < p->end && *p->s >= '0' && *p->s <= '9')
			p->s++;
		if (p->s == start)
			return false;
	}
	return true;
}

static bool j_value(struct jp *p);

/* An object (close '}') or an array (close ']'), its opening byte read. */
static bool j_container(struct jp *p, char close)
{
	bool ok = true;

	if (++p->depth > 64)
		return false;
	j_ws(p);
	if (p->s < p->end && *p->s == close) {
		p->s++;
		p->depth--;
		return true;
	}
	for (;;) {
		if (close == '}') {
			j_ws(p);
			if (!j_string(p))
				return false;
			j_ws(p);
			if (p->s >= p->end || *p->s++ != ':')
				return false;
		}
		if (!j_value(p))
			return false;
		j_ws(p);
		if (p->s >= p->end)
			return false;
		if (*p->s == ',') {
			p->s++;
			continue;
		}
		ok = *p->s++ == close;
		break;
	}
	p->depth--;
	return ok;
}

static bool j_value(struct jp *p)
{
	j_ws(p);
	if (p->s >= p->end)
		return false;
	switch (*p->s) {
	case '{':
		p->s++;
		return j_container(p, '}');
	case '[':
		p->s++;
		return j_container(p, ']');
	case '"':
		return j_string(p);
	case 't':
		return j_lit(p, "true");
	case 'f':
		return j_lit(p, "false");
	case 'n':
		return j_lit(p, "null");
	default:
		return j_number(p);
	}
}

bool fuzz_json_valid(const char *s, size_t len)
{
	struct jp p = {.s = s, .end = s + len};
	unsigned values = 0;

	for (;;) {
		j_ws(&p);
		if (p.s == p.end)
			return values > 0;
		if (!j_value(&p))
			return false;
		values++;
	}
}
