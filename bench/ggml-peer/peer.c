/*
 * The bench's peer: ggml as shipped in llama.cpp's release builds (libggml-base.so of the npm package
 * @node-llama-cpp/linux-x64), driven on one thread. bench/peer.ts compiles this file with the machine's gcc at
 * run time and links it to that library; nothing here is bundled or shipped.
 *
 *   peer traits                                   one line per ggml type: id blck_size type_size to_float imatrix name
 *   peer quantize TYPE SRC.f32 N_PER_ROW IMATRIX.f32|- OUT REPS
 *                                                 ggml_quantize_chunk over the whole file, REPS times, output written once
 *   peer quantize-jobs LIST                       one ggml_quantize_chunk per line of LIST (TYPE SRC.f32 N_PER_ROW
 *                                                 IMATRIX.f32|- OUT, paths without spaces), each in a child forked after the type's
 *                                                 ggml_quantize_init (a grid is set up once per process, and an input
 *                                                 ggml aborts on only ends its child); prints "job I ok" or
 *                                                 "job I aborted: MESSAGE" (the child's last stderr line)
 *   peer scan FILE.gguf BINS REPS                  every tensor: to_float into float32 + min/max/mean/std, then to_float
 *                                                 again + histogram over [min, max] (two passes, as `quantlens stats`)
 *   peer header FILE.gguf REPS                     gguf_init_from_file(no_alloc) + gguf_free
 *
 * Times are printed in milliseconds, one "ms" line per repetition, measured around the ggml calls only.
 *
 * The declarations below are this file's own, of the few functions it calls; they follow ggml's public
 * headers (include/ggml.h, include/gguf.h), and `peer traits` lets the bench check the struct layout against
 * Quant Lens's type table before trusting anything else.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/wait.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef void (*to_float_fn)(const void *x, float *y, int64_t k);
typedef void (*from_float_fn)(const float *x, void *y, int64_t k);

struct ggml_type_traits {
  const char *type_name;
  int64_t blck_size;
  int64_t blck_size_interleave;
  size_t type_size;
  bool is_quantized;
  to_float_fn to_float;
  from_float_fn from_float_ref;
};

struct gguf_context;
struct ggml_context;
struct gguf_init_params {
  bool no_alloc;
  struct ggml_context **ctx;
};

/* enum ggml_type is an int-sized enum in the C ABI */
extern const struct ggml_type_traits *ggml_get_type_traits(int type);
extern void ggml_quantize_init(int type);
extern bool ggml_quantize_requires_imatrix(int type);
extern size_t ggml_quantize_chunk(int type, const float *src, void *dst, int64_t start, int64_t nrows, int64_t n_per_row, const float *imatrix);
extern size_t ggml_row_size(int type, int64_t ne);
extern const char *ggml_version(void);
extern const char *ggml_commit(void);
extern struct gguf_context *gguf_init_from_file(const char *fname, struct gguf_init_params params);
extern void gguf_free(struct gguf_context *ctx);
extern int64_t gguf_get_n_tensors(const struct gguf_context *ctx);
extern size_t gguf_get_data_offset(const struct gguf_context *ctx);
extern size_t gguf_get_tensor_offset(const struct gguf_context *ctx, int64_t tensor_id);
extern int gguf_get_tensor_type(const struct gguf_context *ctx, int64_t tensor_id);
extern size_t gguf_get_tensor_size(const struct gguf_context *ctx, int64_t tensor_id);

/* the last type id of this release (GGML_TYPE_Q2_0); ggml_get_type_traits asserts on ids past the table */
#define LAST_TYPE 42

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void die(const char *what) {
  fprintf(stderr, "peer: %s\n", what);
  exit(1);
}

static void *read_all(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f) die(path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  void *p = malloc(n > 0 ? (size_t)n : 1);
  if (!p || fread(p, 1, (size_t)n, f) != (size_t)n) die("read");
  fclose(f);
  *size = (size_t)n;
  return p;
}

static int cmd_traits(void) {
  printf("version %s %s\n", ggml_version(), ggml_commit());
  for (int t = 0; t <= LAST_TYPE; t++) {
    const struct ggml_type_traits *tr = ggml_get_type_traits(t);
    printf("type %d %lld %zu %d %d %s\n", t, (long long)tr->blck_size, tr->type_size, tr->to_float != NULL, ggml_quantize_requires_imatrix(t), tr->type_name ? tr->type_name : "-");
  }
  return 0;
}

static int cmd_quantize(int type, const char *src_path, int64_t n_per_row, const char *imatrix_path, const char *out_path, int reps) {
  size_t src_bytes, im_bytes = 0;
  float *src = read_all(src_path, &src_bytes);
  float *imatrix = strcmp(imatrix_path, "-") ? read_all(imatrix_path, &im_bytes) : NULL;
  if (imatrix && im_bytes != (size_t)n_per_row * 4) die("imatrix size");
  int64_t n = (int64_t)(src_bytes / 4);
  int64_t nrows = n / n_per_row;
  size_t out_bytes = ggml_row_size(type, n_per_row) * (size_t)nrows;
  void *dst = malloc(out_bytes);
  if (!dst) die("malloc");
  ggml_quantize_init(type); /* the I-quant grids: set up once, outside the timing */
  for (int r = 0; r < reps; r++) {
    double t0 = now_ms();
    size_t wrote = ggml_quantize_chunk(type, src, dst, 0, nrows, n_per_row, imatrix);
    double t1 = now_ms();
    if (wrote != out_bytes) die("ggml_quantize_chunk size");
    printf("ms %.4f\n", t1 - t0);
  }
  FILE *f = fopen(out_path, "wb");
  if (!f || fwrite(dst, 1, out_bytes, f) != out_bytes) die(out_path);
  fclose(f);
  return 0;
}

/* the last line of a small text file, without its newline ("" when empty or missing) */
static void last_line(const char *path, char *line, size_t size) {
  line[0] = 0;
  FILE *f = fopen(path, "r");
  if (!f) return;
  char buf[1024];
  while (fgets(buf, sizeof buf, f))
    if (buf[0] != '\n') snprintf(line, size, "%s", buf);
  fclose(f);
  line[strcspn(line, "\n")] = 0;
}

static int cmd_quantize_jobs(const char *list_path) {
  FILE *list = fopen(list_path, "r");
  if (!list) die(list_path);
  char src[4096], imatrix[4096], out[4096];
  int type;
  long long n_per_row;
  for (int job = 0; fscanf(list, "%d %4095s %lld %4095s %4095s", &type, src, &n_per_row, imatrix, out) == 5; job++) {
    ggml_quantize_init(type); /* in the parent: every child inherits the grid */
    char err_path[4200];
    snprintf(err_path, sizeof err_path, "%s.err", out);
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
      setenv("GGML_NO_BACKTRACE", "1", 1); /* ggml_abort would otherwise attach gdb to print a backtrace */
      int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int null = open("/dev/null", O_WRONLY);
      if (err < 0 || null < 0 || dup2(err, 2) < 0 || dup2(null, 1) < 0) _exit(3);
      _exit(cmd_quantize(type, src, n_per_row, imatrix, out, 1));
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid) die("waitpid");
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
      printf("job %d ok\n", job);
    } else {
      char line[1024];
      last_line(err_path, line, sizeof line);
      printf("job %d aborted: %s\n", job, line[0] ? line : "no message");
    }
    remove(err_path);
  }
  fclose(list);
  return 0;
}

/* read [offset, offset + n) with pread, 4 MB at a time, the page-cached way `quantlens stats` reads */
#define CHUNK_BYTES (4u << 20)
#define DECODE_WEIGHTS (64u << 10)

struct stats {
  uint64_t count, finite, nan, inf, zero;
  double min, max, sum, sumsq;
  uint64_t *hist;
};

typedef void (*chunk_fn)(const float *v, int64_t n, struct stats *s, int bins);

static void first_pass(const float *v, int64_t n, struct stats *s, int bins) {
  (void)bins;
  double mn = s->min, mx = s->max, sum = 0, sumsq = 0;
  uint64_t finite = 0, zero = 0;
  for (int64_t i = 0; i < n; i++) {
    float x = v[i];
    if (!isfinite(x)) {
      if (isnan(x)) s->nan++;
      else s->inf++;
      continue;
    }
    finite++;
    if (x < mn) mn = x;
    if (x > mx) mx = x;
    if (x == 0) zero++;
    sum += x;
    sumsq += (double)x * x;
  }
  s->count += (uint64_t)n;
  s->finite += finite;
  s->zero += zero;
  s->min = mn;
  s->max = mx;
  s->sum += sum;
  s->sumsq += sumsq;
}

/* bin = floor((x - lo) * bins / range): a multiply by bins / range, and the division itself only near a bin edge
   (x >= lo, so a truncating conversion is the floor) */
static void second_pass(const float *v, int64_t n, struct stats *s, int bins) {
  const double lo = s->min, range = s->max - s->min, scale = range > 0 ? bins / range : 0;
  uint64_t *h = s->hist;
  for (int64_t i = 0; i < n; i++) {
    double x = v[i];
    if (!isfinite(x)) continue;
    double t = (x - lo) * scale;
    int64_t b = (int64_t)t;
    double f = t - (double)b;
    if ((f < 1e-7 || f > 1 - 1e-7) && range > 0) b = (int64_t)(((x - lo) * bins) / range);
    if (b >= bins) b = bins - 1;
    h[b]++;
  }
}

/* F32 has no to_float in ggml's table: a copy, as a C scan of float32 data would read it */
static void copy_f32(const void *x, float *y, int64_t k) { memcpy(y, x, (size_t)k * 4); }

static void pass(int fd, size_t offset, size_t nbytes, const struct ggml_type_traits *tr, unsigned char *buf, float *vals, chunk_fn f, struct stats *s, int bins) {
  to_float_fn to_float = tr->to_float ? tr->to_float : copy_f32;
  /* whole blocks per read, and per decode at most DECODE_WEIGHTS (the float32 stay in cache between to_float and f) */
  size_t step = (CHUNK_BYTES / tr->type_size) * tr->type_size;
  size_t blocks_per_decode = DECODE_WEIGHTS / (size_t)tr->blck_size;
  for (size_t at = 0; at < nbytes; at += step) {
    size_t len = nbytes - at < step ? nbytes - at : step;
    if ((size_t)pread(fd, buf, len, (off_t)(offset + at)) != len) die("pread");
    size_t blocks = len / tr->type_size;
    for (size_t b = 0; b < blocks; b += blocks_per_decode) {
      size_t nb = blocks - b < blocks_per_decode ? blocks - b : blocks_per_decode;
      int64_t n = (int64_t)nb * tr->blck_size;
      to_float(buf + b * tr->type_size, vals, n);
      f(vals, n, s, bins);
    }
  }
}

static int cmd_scan(const char *path, int bins, int reps) {
  struct gguf_init_params p = {true, NULL};
  struct gguf_context *g = gguf_init_from_file(path, p);
  if (!g) die("gguf_init_from_file");
  int fd = open(path, O_RDONLY);
  if (fd < 0) die(path);
  int64_t nt = gguf_get_n_tensors(g);
  size_t data = gguf_get_data_offset(g);
  unsigned char *buf = malloc(CHUNK_BYTES);
  float *vals = malloc(sizeof(float) * DECODE_WEIGHTS);
  uint64_t *hist = calloc((size_t)bins, sizeof(uint64_t)), *hist0 = calloc((size_t)bins, sizeof(uint64_t));
  struct stats s0 = {0};
  if (!buf || !vals || !hist || !hist0) die("malloc");
  for (int r = 0; r < reps; r++) {
    double t0 = now_ms();
    for (int64_t t = 0; t < nt; t++) {
      int type = gguf_get_tensor_type(g, t);
      const struct ggml_type_traits *tr = ggml_get_type_traits(type);
      if (!tr->to_float && type != 0) die("no to_float");
      struct stats s = {0};
      s.min = INFINITY;
      s.max = -INFINITY;
      s.hist = hist;
      memset(hist, 0, sizeof(uint64_t) * (size_t)bins);
      size_t off = data + gguf_get_tensor_offset(g, t), nb = gguf_get_tensor_size(g, t);
      pass(fd, off, nb, tr, buf, vals, first_pass, &s, bins);
      pass(fd, off, nb, tr, buf, vals, second_pass, &s, bins);
      if (t == 0) {
        s0 = s;
        memcpy(hist0, hist, sizeof(uint64_t) * (size_t)bins);
      }
    }
    double t1 = now_ms();
    printf("ms %.4f\n", t1 - t0);
  }
  /* the first tensor's statistics, for the bench to check both sides scanned the same weights */
  double mean = s0.finite ? s0.sum / s0.finite : NAN;
  double var = s0.finite ? s0.sumsq / s0.finite - mean * mean : NAN;
  uint64_t hsum = 0;
  for (int b = 0; b < bins; b++) hsum += hist0[b];
  printf("stats %llu %.17g %.17g %.17g %.17g %llu %llu %llu\n", (unsigned long long)s0.count, s0.min, s0.max, mean, sqrt(var > 0 ? var : 0), (unsigned long long)s0.zero, (unsigned long long)hsum, (unsigned long long)hist0[bins / 2]);
  free(buf);
  free(vals);
  free(hist);
  free(hist0);
  close(fd);
  gguf_free(g);
  return 0;
}

static int cmd_header(const char *path, int reps) {
  int64_t n = 0;
  for (int r = 0; r < reps; r++) {
    double t0 = now_ms();
    struct gguf_init_params p = {true, NULL};
    struct gguf_context *g = gguf_init_from_file(path, p);
    if (!g) die("gguf_init_from_file");
    n = gguf_get_n_tensors(g);
    gguf_free(g);
    printf("ms %.4f\n", now_ms() - t0);
  }
  printf("tensors %lld\n", (long long)n);
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 2 && !strcmp(argv[1], "traits")) return cmd_traits();
  if (argc == 8 && !strcmp(argv[1], "quantize")) return cmd_quantize(atoi(argv[2]), argv[3], atoll(argv[4]), argv[5], argv[6], atoi(argv[7]));
  if (argc == 3 && !strcmp(argv[1], "quantize-jobs")) return cmd_quantize_jobs(argv[2]);
  if (argc == 5 && !strcmp(argv[1], "scan")) return cmd_scan(argv[2], atoi(argv[3]), atoi(argv[4]));
  if (argc == 4 && !strcmp(argv[1], "header")) return cmd_header(argv[2], atoi(argv[3]));
  fprintf(stderr, "usage: peer traits | quantize TYPE SRC N_PER_ROW IMATRIX|- OUT REPS | quantize-jobs LIST | scan FILE BINS REPS | header FILE REPS\n");
  return 2;
}
