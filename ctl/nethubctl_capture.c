// SPDX-License-Identifier: MIT
/* PLACEHOLDER: nethubctl_capture.c - nethubctl capture */
