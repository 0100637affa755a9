/* bcc_compile: vnetscope-bcc.so. Compile BPF C with libbcc and copy out
 * what loading needs as a pack; BCC's own maps and module are dropped. */
#include <bcc/bcc_common.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler.h"

static char *dup_or_empty(const char *s)
{
  return strdup(s ? s : "");
}

static int copy_map(void *bpf, size_t id, struct pack_map *m)
{
  const char *name = bpf_table_name(bpf, id);
  m->name = dup_or_empty(name);
  m->type = (uint32_t)bpf_table_type_id(bpf, id);
  m->key_size = (uint32_t)bpf_table_key_size_id(bpf, id);
  m->value_size = (uint32_t)bpf_table_leaf_size_id(bpf, id);
  m->max_entries = (uint32_t)bpf_table_max_entries_id(bpf, id);
  m->flags = (uint32_t)bpf_table_flags_id(bpf, id);
  m->key_desc = dup_or_empty(bpf_table_key_desc_id(bpf, id));
  m->leaf_desc = dup_or_empty(bpf_table_leaf_desc_id(bpf, id));
  size_t n = name ? bpf_perf_event_fields(bpf, name) : 0;
  m->fields = calloc(n ? n : 1, sizeof *m->fields);
  if (!m->name || !m->key_desc || !m->leaf_desc || !m->fields)
    return -1;
  for (size_t i = 0; i < n; i++)
    if (!(m->fields[m->nfields++] = dup_or_empty(bpf_perf_event_field(bpf, name, i))))
      return -1;
  return 0;
}

static int copy_func(void *bpf, size_t id, struct pack_func *f, const int *fds, uint32_t nmaps,
                     char *err, size_t errlen)
{
  size_t size = bpf_function_size_id(bpf, id);
  f->name = dup_or_empty(bpf_function_name(bpf, id));
  f->ninsns = (uint32_t)(size / sizeof *f->insns);
  f->insns = malloc(size ? size : 1);
  if (!f->name || !f->insns) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  memcpy(f->insns, bpf_function_start_id(bpf, id), size);
  return pack_relocate(f, fds, nmaps, err, errlen);
}

static int copy_module(void *bpf, struct pack *out, char *err, size_t errlen)
{
  out->license = dup_or_empty(bpf_module_license(bpf));
  out->kern_version = bpf_module_kern_version(bpf);
  uint32_t nmaps = (uint32_t)bpf_num_tables(bpf), nfuncs = (uint32_t)bpf_num_functions(bpf);
  out->maps = calloc(nmaps + 1, sizeof *out->maps);
  out->funcs = calloc(nfuncs + 1, sizeof *out->funcs);
  int *fds = calloc(nmaps + 1, sizeof *fds);
  int rc = out->license && out->maps && out->funcs && fds ? 0 : -1;
  /* Counted only once allocated: pack_free walks what the counts say. */
  if (rc == 0) {
    out->nmaps = nmaps;
    out->nfuncs = nfuncs;
  }
  for (uint32_t i = 0; rc == 0 && i < out->nmaps; i++) {
    fds[i] = bpf_table_fd_id(bpf, i);
    rc = copy_map(bpf, i, &out->maps[i]);
  }
  if (rc)
    snprintf(err, errlen, "out of memory");
  for (uint32_t i = 0; rc == 0 && i < out->nfuncs; i++)
    rc = copy_func(bpf, i, &out->funcs[i], fds, out->nmaps, err, errlen);
  free(fds);
  return rc;
}

int vns_bcc_compile(const char *text, const char **cflags, int ncflags, unsigned flags,
                    struct pack *out, char *err, size_t errlen)
{
  memset(out, 0, sizeof *out);
  err[0] = '\0';
  void *bpf = bpf_module_create_c_from_string(text, flags, cflags, ncflags, true, NULL);
  if (!bpf)
    return -1;
  int rc = copy_module(bpf, out, err, errlen);
  bpf_module_destroy(bpf);
  if (rc)
    pack_free(out);
  return rc;
}

_Static_assert(__builtin_types_compatible_p(__typeof__(&vns_bcc_compile), compiler_fn),
               "vns_bcc_compile must match compiler_fn");
