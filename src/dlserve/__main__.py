from dlserve.cli import main

main()
