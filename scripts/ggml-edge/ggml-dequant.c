/*
 * ggml-dequant: asks ggml's own library (libggml-base.so) how it converts bytes to float32, for the
 * expectations in test/fixtures/ggml-edge/ (see scripts/ggml-edge/generate.ts and the PROVENANCE.md there).
 *
 *   ggml-dequant types ID...  one line per given ggml type id: "id name block_size type_size has_to_float"
 *                          (ggml has no safe way to ask for its type count: callers pass the ids they know)
 *   ggml-dequant f16       the float32 of every binary16 pattern 0..65535 (ggml_fp16_to_fp32), little-endian
 *   ggml-dequant bf16      the float32 of every bfloat16 pattern (ggml_bf16_to_fp32_row)
 *   ggml-dequant dequant   reads records { int32 type; int32 n_blocks; bytes } from stdin until EOF and writes
 *                          the type's to_float output (n_blocks * block_size float32) for each to stdout
 *
 * Only the few functions used are declared here (the ggml headers are not needed).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*to_float_fn)(const void *src, float *dst, int64_t n);

/* ggml.h's struct ggml_type_traits, in its declaration order (checked against the accessors below). */
struct type_traits {
  const char *type_name;
  int64_t blck_size;
  int64_t blck_size_interleave;
  size_t type_size;
  bool is_quantized;
  to_float_fn to_float;
  void *from_float_ref;
};

const struct type_traits *ggml_get_type_traits(int type);
const char *ggml_type_name(int type);
int64_t ggml_blck_size(int type);
size_t ggml_type_size(int type);
float ggml_fp16_to_fp32(uint16_t h);
void ggml_fp16_to_fp32_row(const uint16_t *src, float *dst, int64_t n);
void ggml_bf16_to_fp32_row(const uint16_t *src, float *dst, int64_t n);

static const struct type_traits *checked_traits(int type) {
  const struct type_traits *t = ggml_get_type_traits(type);
  if (t->type_name != ggml_type_name(type) || t->blck_size != ggml_blck_size(type) || t->type_size != ggml_type_size(type)) {
    fprintf(stderr, "ggml_type_traits layout differs from this program's declaration (type %d)\n", type);
    exit(3);
  }
  return t;
}

static void write_all(const void *p, size_t n) {
  if (fwrite(p, 1, n, stdout) != n) {
    perror("write");
    exit(3);
  }
}

static int read_all(void *p, size_t n) {
  return fread(p, 1, n, stdin) == n;
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "";
  if (!strcmp(mode, "types")) {
    for (int a = 2; a < argc; a++) {
      int i = atoi(argv[a]);
      const struct type_traits *t = checked_traits(i);
      printf("%d %s %lld %zu %d\n", i, t->type_name, (long long)t->blck_size, t->type_size, t->to_float != NULL);
    }
    return 0;
  }
  if (!strcmp(mode, "f16") || !strcmp(mode, "bf16")) {
    static uint16_t bits[65536];
    static float row[65536];
    for (int i = 0; i < 65536; i++) bits[i] = (uint16_t)i;
    if (mode[0] == 'f') {
      ggml_fp16_to_fp32_row(bits, row, 65536);
      for (int i = 0; i < 65536; i++) {
        float one = ggml_fp16_to_fp32(bits[i]);
        if (memcmp(&one, &row[i], 4) != 0) {
          fprintf(stderr, "ggml_fp16_to_fp32 and ggml_fp16_to_fp32_row differ at 0x%04x\n", i);
          return 3;
        }
      }
    } else {
      ggml_bf16_to_fp32_row(bits, row, 65536);
    }
    write_all(row, sizeof row);
    return 0;
  }
  if (!strcmp(mode, "dequant")) {
    int32_t head[2];
    while (read_all(head, sizeof head)) {
      if (head[0] < 0 || head[1] <= 0) {
        fprintf(stderr, "bad record: type %d, %d blocks\n", head[0], head[1]);
        return 3;
      }
      const struct type_traits *t = checked_traits(head[0]);
      if (!t->to_float) {
        fprintf(stderr, "type %s has no to_float\n", t->type_name);
        return 3;
      }
      size_t bytes = (size_t)head[1] * t->type_size;
      size_t n = (size_t)head[1] * (size_t)t->blck_size;
      void *src = malloc(bytes);
      float *dst = malloc(n * sizeof(float));
      if (!src || !dst || !read_all(src, bytes)) {
        fprintf(stderr, "short record for type %s\n", t->type_name);
        return 3;
      }
      t->to_float(src, dst, (int64_t)n);
      write_all(dst, n * sizeof(float));
      free(src);
      free(dst);
    }
    return 0;
  }
  fprintf(stderr, "usage: ggml-dequant types ID... | f16 | bf16 | dequant < records\n");
  return 1;
}
