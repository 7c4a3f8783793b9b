# The lab's image: the pinned Python environment; the repository itself is mounted at /lab.
FROM python:3.11.10-slim-bookworm
WORKDIR /lab
COPY pyproject.toml constraints.txt README.md ./
COPY lab_support ./lab_support
COPY labs ./labs
RUN pip install --no-cache-dir -c constraints.txt -e ".[test]"
CMD ["python", "-m", "lab_support.launch"]
