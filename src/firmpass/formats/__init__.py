"""Small binary-format parsers shared by stages (unpack, checks): FDT/FIT, uImage, TRX.

No maintained Python library parses these boot formats without also pulling a toolchain, and each
is a few dozen lines of a public, stable layout, so they are written here.
"""
