// SPDX-License-Identifier: MIT
/* PLACEHOLDER - replaced by the nethubctl helper */
int main(void) { return 2; }
