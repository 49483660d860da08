from sessionsim.cli import main

main()
