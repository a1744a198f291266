import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=100)
years = [2018, 2019, 2020, 2021, 2022]
ax.plot(years, [3.1, 4.5, 2.2, 5.8, 6.4], color='#dd8452', marker='o', label='North')
ax.plot(years, [2.0, 1.5, 2.9, 4.2, 3.8], color='#55a868', marker='s', label='South')
ax.set_title('Sales per region')
ax.set_ylabel('Units (k)')
ax.legend()
