/* SPDX-License-Identifier: MIT */
/* PLACEHOLDER: capture.h - filter-dump captures */
