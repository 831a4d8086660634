from generator.entry import console

# Guarded: a worker process started with "spawn" imports this module again.
if __name__ == "__main__":
    console()
