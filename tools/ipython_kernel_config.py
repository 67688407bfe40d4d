# The workshop kernel's IPython configuration: `make setup` copies it into the environment
# (.venv/etc/ipython/, read by every kernel that environment starts). The extension shows a
# cell's errors as bwp_workshop.notebook.cell_errors says, from the kernel's first cell on: a
# restarted kernel has it before the notebook's own first cell runs again.
c = get_config()  # noqa: F821 - IPython defines it for its configuration files
c.IPKernelApp.extensions = ["bwp_workshop.notebook.cell_errors"]
