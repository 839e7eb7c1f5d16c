"""modelyard's model format: a folder with a manifest, loadable safely by flavor.

Only relative imports (and ``..errors``) so ``modelyard models export`` can copy this package
into a bundle that runs without modelyard installed.
"""
