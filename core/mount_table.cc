#include "core/mount_table.h"

#include <libmount/libmount.h>
#include <sys/sysmacros.h>

#include <memory>

namespace longpin {

std::vector<MountEntry> MountTable() {
  std::vector<MountEntry> out;
  std::unique_ptr<libmnt_table, decltype(&mnt_unref_table)> table(mnt_new_table(), mnt_unref_table);
  if (!table || mnt_table_parse_file(table.get(), "/proc/self/mountinfo") != 0) return out;
  std::unique_ptr<libmnt_iter, decltype(&mnt_free_iter)> it(mnt_new_iter(MNT_ITER_FORWARD), mnt_free_iter);
  if (!it) return out;
  auto text = [](const char* s) { return s ? std::string(s) : std::string(); };
  for (libmnt_fs* fs = nullptr; mnt_table_next_fs(table.get(), it.get(), &fs) == 0;) {
    const dev_t dev = mnt_fs_get_devno(fs);
    out.push_back({text(mnt_fs_get_target(fs)), text(mnt_fs_get_source(fs)), text(mnt_fs_get_fstype(fs)),
                   ::major(dev), ::minor(dev)});
  }
  return out;
}

std::vector<std::string> MountPoints() {
  std::vector<std::string> out;
  for (auto& e : MountTable()) out.push_back(std::move(e.point));
  return out;
}

}  // namespace longpin
