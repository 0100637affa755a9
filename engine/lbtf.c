/* lbtf: where a member of a kernel struct is, from a kernel's BTF:
 * vmlinux first, then every module's, since a driver's private structs
 * (vring_virtqueue, tun_struct, ...) are only in their module's BTF.
 *   core.btf_offset("vring_virtqueue", "split.vring.avail" [, dir [, module]])
 *     -> byte offset, member size in bytes, the BTF it was found in
 *        ("vmlinux" or a module name); or nil and why.
 * dir is /sys/kernel/btf by default, or a directory of another kernel's
 * BTF files (vmlinux and modules, saved by the lab) when compiling for
 * it; module limits the search to vmlinux and that module (a module
 * using another's struct has its own copy of it). A path goes through
 * named members; anonymous struct and union
 * members are looked through, as C does. */
#include <bpf/btf.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lhelp.h"

#define LBTF_DIR "/sys/kernel/btf"
#define LBTF_MAX 256

/* The BTF of one directory at a time, loaded once: a run asks about one
 * kernel. */
static struct {
  char name[256];
  struct btf *btf;
} loaded[LBTF_MAX];
static int nloaded = -1;
static char loaded_dir[512];

static void lbtf_unload(void)
{
  for (int i = nloaded - 1; i >= 0; i--)
    btf__free(loaded[i].btf);  /* modules first: they are split over vmlinux */
  nloaded = -1;
}

static void lbtf_load_all(const char *dir)
{
  char path[768];
  lbtf_unload();
  snprintf(loaded_dir, sizeof loaded_dir, "%s", dir);
  snprintf(path, sizeof path, "%s/vmlinux", dir);
  struct btf *base = btf__parse(path, NULL);
  nloaded = 0;
  if (!base)
    return;
  snprintf(loaded[0].name, sizeof loaded[0].name, "vmlinux");
  loaded[nloaded++].btf = base;
  DIR *d = opendir(dir);
  struct dirent *e;
  while (d && (e = readdir(d)) && nloaded < LBTF_MAX) {
    if (e->d_name[0] == '.' || !strcmp(e->d_name, "vmlinux"))
      continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    struct btf *b = btf__parse_split(path, base);
    if (!b)
      continue;
    snprintf(loaded[nloaded].name, sizeof loaded[nloaded].name, "%s", e->d_name);
    loaded[nloaded++].btf = b;
  }
  if (d)
    closedir(d);
}

static const struct btf_type *lbtf_resolve(const struct btf *btf, __u32 id)
{
  const struct btf_type *t = btf__type_by_id(btf, id);
  while (t && (btf_is_mod(t) || btf_is_typedef(t)))
    t = btf__type_by_id(btf, t->type);
  return t;
}

/* The member `name` of composite t, looking through anonymous members:
 * its type id and bit offset from the start of t. */
static int lbtf_member(const struct btf *btf, const struct btf_type *t, const char *name, __u32 *type,
                       __u32 *bits, int depth)
{
  if (!t || !btf_is_composite(t) || depth > 8)
    return -1;
  const struct btf_member *m = btf_members(t);
  for (int i = 0; i < btf_vlen(t); i++, m++) {
    const char *mname = btf__name_by_offset(btf, m->name_off);
    __u32 off = btf_member_bit_offset(t, i);
    if (mname && *mname) {
      if (!strcmp(mname, name)) {
        *type = m->type;
        *bits = off;
        return 0;
      }
    } else if (!lbtf_member(btf, lbtf_resolve(btf, m->type), name, type, bits, depth + 1)) {
      *bits += off;
      return 0;
    }
  }
  return -1;
}

static int core_btf_offset(lua_State *L)
{
  const char *sname = luaL_checkstring(L, 1);
  const char *path = luaL_checkstring(L, 2);
  const char *dir = luaL_optstring(L, 3, LBTF_DIR);
  const char *module = luaL_optstring(L, 4, NULL);
  if (nloaded < 0 || strcmp(dir, loaded_dir))
    lbtf_load_all(dir);
  if (nloaded == 0) {
    lua_pushnil(L);
    lua_pushfstring(L, "no kernel BTF (%s/vmlinux)", dir);
    return 2;
  }
  for (int i = 0; i < nloaded; i++) {
    if (i > 0 && module && strcmp(loaded[i].name, module))
      continue;
    const struct btf *btf = loaded[i].btf;
    int id = btf__find_by_name_kind(btf, sname, BTF_KIND_STRUCT);
    if (id < 0)
      continue;
    const struct btf_type *t = btf__type_by_id(btf, id);
    __u32 total = 0, type = id;
    char part[128];
    const char *p = path;
    while (*p) {
      size_t n = strcspn(p, ".");
      if (n == 0 || n >= sizeof part)
        return luaL_error(L, "btf_offset: bad member path '%s'", path);
      memcpy(part, p, n);
      part[n] = 0;
      __u32 bits;
      if (lbtf_member(btf, t, part, &type, &bits, 0)) {
        lua_pushnil(L);
        lua_pushfstring(L, "struct %s has no member %s in the BTF of %s", sname, path, loaded[i].name);
        return 2;
      }
      total += bits;
      t = lbtf_resolve(btf, type);
      p += n + (p[n] == '.');
    }
    if (total % 8)
      return luaL_error(L, "btf_offset: %s.%s is a bit field", sname, path);
    lua_pushinteger(L, total / 8);
    lua_pushinteger(L, btf__resolve_size(btf, type));
    lua_pushstring(L, loaded[i].name);
    return 3;
  }
  lua_pushnil(L);
  lua_pushfstring(L, "struct %s is in no BTF of this kernel (%s)", sname, dir);
  return 2;
}

void lbtf_register(lua_State *L)
{
  lua_pushcfunction(L, core_btf_offset);
  lua_setfield(L, -2, "btf_offset");
}
