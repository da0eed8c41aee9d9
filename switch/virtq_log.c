// SPDX-License-Identifier: MIT
/* virtq_log.c - the dirty log of live migration (see virtq.h): mapping the
 * bitmap a front-end shares and marking the pages the back-end wrote
 *
 * Owns the log's mapping (vq_log_map() maps, vq_log_unmap() unmaps).
 *
 * Never: touch a byte past the bitmap (pages beyond it are counted, not
 * marked); set a bit before the bytes it covers are written; clear a bit
 * (the front-end does, as it copies pages).
 */

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "virtq.h"

bool vq_log_map(struct vq_log *l, int fd, uint64_t size, uint64_t offset,
		struct nh_error **errp)
{
	struct stat st;
	uint64_t end;
	void *map;

	if (!size) {
		nh_error_setg(errp, "dirty log of size 0");
		return false;
	}
	if (offset > UINT64_MAX - size || offset + size > SIZE_MAX) {
		nh_error_setg(errp,
			      "dirty log: offset 0x%llx + size 0x%llx "
			      "overflows",
			      (unsigned long long)offset,
			      (unsigned long long)size);
		return false;
	}
	end = offset + size;
	if (fstat(fd, &st) < 0) {
		nh_error_setg(errp, "dirty log: bad file: %s", strerror(errno));
		return false;
	}
	if (!S_ISREG(st.st_mode)) {
		nh_error_setg(errp, "dirty log: not a shared memory file "
				    "(memfd)");
		return false;
	}
	/* writing past the end of the file would be SIGBUS */
	if ((uint64_t)st.st_size < end) {
		nh_error_setg(errp,
			      "dirty log: its file has 0x%llx bytes, fewer "
			      "than offset + size (0x%llx)",
			      (unsigned long long)st.st_size,
			      (unsigned long long)end);
		return false;
	}
	vq_fd_seal_shrink(fd);
	/* from the file's start: @offset need not be page-aligned */
	map =
	    mmap(NULL, (size_t)end, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		nh_error_setg(errp, "dirty log cannot be mapped: %s",
			      strerror(errno));
		return false;
	}
	vq_log_unmap(l);
	l->map = map;
	l->map_len = (size_t)end;
	l->bitmap = (uint8_t *)map + offset;
	l->bytes = size;
	return true;
}

void vq_log_unmap(struct vq_log *l)
{
	if (l->map)
		munmap(l->map, l->map_len);
	l->map = NULL;
	l->map_len = 0;
	l->bitmap = NULL;
	l->bytes = 0;
}

void vq_log_mark(struct vq_log *l, uint64_t gpa, uint64_t len)
{
	uint64_t page, last;

	if (!len || !l->bitmap)
		return;
	page = gpa / VQ_LOG_PAGE;
	/* an address near the top (a used ring's log address is the
	 * front-end's word) must not wrap to page 0 */
	last = len - 1 > UINT64_MAX - gpa ? UINT64_MAX / VQ_LOG_PAGE
					  : (gpa + len - 1) / VQ_LOG_PAGE;
	for (; page <= last; page++) {
		uint8_t bit = (uint8_t)(1u << (page % 8)), old;

		if (page / 8 >= l->bytes) {
			l->beyond++;
			return;
		}
		/* release: the bytes written before are visible first */
		old = __atomic_fetch_or(&l->bitmap[page / 8], bit,
					__ATOMIC_RELEASE);
		if (!(old & bit))
			l->pages++;
	}
}
