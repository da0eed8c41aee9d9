// SPDX-License-Identifier: MIT
/* PLACEHOLDER: capture.c - filter-dump captures */
